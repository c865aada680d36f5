"""Upload rules without the app: type detection, stored names, backend choice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from chatbot_api.core.config import ConfigError, Settings
from chatbot_api.files.blob import VercelBlobStorage
from chatbot_api.files.local import LocalStorage
from chatbot_api.files.s3 import S3Settings, S3Storage
from chatbot_api.files.service import (
    SAFE_PATHNAME,
    detect_image_type,
    is_safe_pathname,
    safe_pathname,
)
from chatbot_api.files.storage import create_storage
from tests.files.conftest import jpeg_bytes, png_bytes


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (png_bytes(), "image/png"),
        (jpeg_bytes(), "image/jpeg"),
        (b"\xff\xd8", None),
        (b"GIF89a", None),
        (b"RIFF\x00\x00\x00\x00WEBP", None),
        (b" \x89PNG\r\n\x1a\n", None),
    ],
)
def test_detect_image_type_uses_magic_bytes_only(head: bytes, expected: str | None) -> None:
    detected = detect_image_type(head)

    assert (detected.content_type if detected else None) == expected


@pytest.mark.parametrize(
    ("filename", "stem"),
    [
        ("cat.png", "cat"),
        ("holiday.photo.jpeg", "holiday.photo"),
        ("../../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot"),
        ("a b&c;rm -rf.png", "a_b_c_rm_-rf"),
        ("", "upload"),
        (".", "upload"),
        ("...", "upload"),
        (".bashrc", "bashrc"),
        ("%2e%2e%2fsecret.png", "2e_2e_2fsecret"),
    ],
)
def test_safe_pathname_keeps_only_a_sanitized_basename(filename: str, stem: str) -> None:
    pathname = safe_pathname(filename, "png")

    assert pathname.rsplit("-", 1)[0] == stem
    assert pathname.endswith(".png")
    assert SAFE_PATHNAME.fullmatch(pathname)


def test_is_safe_pathname_rejects_names_we_never_generate() -> None:
    good = safe_pathname("x.png", "png")

    assert is_safe_pathname(good)
    assert not is_safe_pathname("../" + good)
    assert not is_safe_pathname(good + ".txt")
    assert not is_safe_pathname(good.replace(".png", ".svg"))
    assert not is_safe_pathname("x.png")


def test_create_storage_picks_backend_from_configuration(tmp_path: Path) -> None:
    http = httpx.AsyncClient()
    base: dict[str, Any] = {"data_dir": tmp_path, "environment": "test"}

    local = create_storage(Settings(**base), http)
    s3 = create_storage(Settings(**base, s3_bucket="b"), http)
    blob = create_storage(Settings(**base, blob_read_write_token="vercel_blob_rw_s_x"), http)

    assert isinstance(local, LocalStorage)
    assert local.root == tmp_path / "uploads"
    assert isinstance(s3, S3Storage)
    assert isinstance(blob, VercelBlobStorage)


@pytest.mark.parametrize("backend", ["s3", "vercel_blob"])
def test_create_storage_without_required_settings_refuses_to_start(
    tmp_path: Path, backend: str
) -> None:
    settings = Settings(data_dir=tmp_path, environment="test", storage_backend=backend)

    with pytest.raises(ConfigError):
        create_storage(settings, httpx.AsyncClient())


@pytest.mark.parametrize(
    ("overrides", "url"),
    [
        ({"s3_public_base_url": "https://cdn.example.com/"}, "https://cdn.example.com/k.png"),
        ({}, "https://s3.eu-west-1.amazonaws.com/bkt/k.png"),
        ({"s3_force_path_style": False}, "https://bkt.s3.eu-west-1.amazonaws.com/k.png"),
        ({"s3_endpoint_url": "http://minio:9000/"}, "http://minio:9000/bkt/k.png"),
        (
            {"s3_endpoint_url": "https://r2.example.com", "s3_force_path_style": False},
            "https://bkt.r2.example.com/k.png",
        ),
    ],
)
def test_s3_public_url_follows_configuration(
    tmp_path: Path, overrides: dict[str, Any], url: str
) -> None:
    settings = Settings(data_dir=tmp_path, s3_region="eu-west-1", s3_bucket="bkt", **overrides)

    assert S3Settings.from_settings(settings, "bkt").public_url("k.png") == url
