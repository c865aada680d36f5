"""Fixtures of the files tests: image bytes, a moto S3 server and a Vercel Blob API stand-in."""

from __future__ import annotations

import json
import secrets
import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

MIB = 1024 * 1024
BLOB_TOKEN = "vercel_blob_rw_TestStore123_secretpart"
S3_BUCKET = "uploads"
S3_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def png_bytes(size: int | None = None) -> bytes:
    """A real 1×1 PNG, padded after IEND to `size` bytes when asked."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    image = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )
    return image if size is None else image + b"\x00" * (size - len(image))


def jpeg_bytes(size: int = 1024) -> bytes:
    """JPEG markers (SOI, APP0 JFIF … EOI) padded to `size` bytes."""
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return head + b"\x00" * (size - len(head) - 2) + b"\xff\xd9"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- S3: moto's server speaking the real S3 API ------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on loopback with the `uploads` bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **S3_CREDENTIALS)
    s3.create_bucket(Bucket=S3_BUCKET)
    public_read = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{S3_BUCKET}/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=S3_BUCKET, Policy=json.dumps(public_read))
    yield endpoint
    server.stop()


# --- Vercel Blob: a stand-in speaking the `PUT /?pathname=` API ---------------------------


@dataclass
class FakeBlobApi:
    """What the stand-in stored and saw; `fail_with` makes every PUT answer that status."""

    base_url: str = ""
    token: str = BLOB_TOKEN
    objects: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    puts: list[dict[str, Any]] = field(default_factory=list)
    fail_with: int | None = None

    def reset(self) -> None:
        self.objects.clear()
        self.puts.clear()
        self.fail_with = None


def _blob_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _handler(api: FakeBlobApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = self.rfile.read(int(headers.get("content-length", "0")))
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            pathname = query.get("pathname", [unquote(url.path.lstrip("/"))])[0]
            api.puts.append({"pathname": pathname, "headers": headers, "size": len(body)})
            if api.fail_with is not None:
                self._json(api.fail_with, _blob_error("service_unavailable", "down"))
            elif headers.get("authorization") != f"Bearer {api.token}":
                self._json(403, _blob_error("forbidden", "Access denied"))
            elif not headers.get("x-api-version"):
                self._json(400, _blob_error("bad_request", "Missing x-api-version"))
            elif headers.get("x-vercel-blob-access") != "public" or not pathname:
                self._json(400, _blob_error("bad_request", "Invalid access or pathname"))
            else:
                self._store(pathname, body, headers)

        def _store(self, pathname: str, body: bytes, headers: dict[str, str]) -> None:
            if headers.get("x-add-random-suffix") == "1":
                stem, dot, ext = pathname.rpartition(".")
                pathname = f"{stem}-{secrets.token_hex(8)}{dot}{ext}"
            if pathname in api.objects and headers.get("x-allow-overwrite") != "1":
                self._json(400, _blob_error("bad_request", "This blob already exists"))
                return
            content_type = headers.get("x-content-type", "application/octet-stream")
            api.objects[pathname] = (body, content_type)
            url = f"{api.base_url}/{pathname}"
            name = pathname.rsplit("/", 1)[-1]
            self._json(
                200,
                {
                    "url": url,
                    "downloadUrl": f"{url}?download=1",
                    "pathname": pathname,
                    "contentType": content_type,
                    "contentDisposition": f'inline; filename="{name}"',
                },
            )

        def do_GET(self) -> None:
            pathname = unquote(urlsplit(self.path).path.lstrip("/"))
            if pathname not in api.objects:
                self._json(404, _blob_error("not_found", "The requested blob does not exist"))
                return
            data, content_type = api.objects[pathname]
            self.send_response(200)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture(scope="session")
def blob_server() -> Iterator[FakeBlobApi]:
    api = FakeBlobApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield api
    server.shutdown()
    server.server_close()


@pytest.fixture
def blob_api(blob_server: FakeBlobApi) -> Iterator[FakeBlobApi]:
    blob_server.reset()
    yield blob_server
    blob_server.reset()
