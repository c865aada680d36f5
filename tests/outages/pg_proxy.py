"""A TCP proxy on a loopback port in front of the real PostgreSQL, that a test cuts and restores.

Only the proxy breaks: the shared PostgreSQL behind it is never stopped or touched, so a test
can take "the database" away from the app it built on the proxy's URL and give it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

CutMode = Literal["refuse", "reset", "starting", "blackhole"]

_SSL_REQUEST = 80877103  # the code of the SSLRequest message a client may send first


def _fatal(sqlstate: str, message: str) -> bytes:
    """A PostgreSQL ErrorResponse message (severity FATAL)."""
    fields = b"".join(
        tag + value.encode() + b"\0"
        for tag, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (SO_LINGER 0), as a dropped server or a stateful firewall does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class PgProxy:
    """Forwards 127.0.0.1:`port` to `upstream`; `cut()` breaks it, `restore()` mends it.

    `cut("refuse")`: every open connection is reset and new ones are refused (the server is
    down). `cut("reset")`: the same, but new ones are accepted and reset at once (a proxy or
    pooler in front of a lost server: asyncpg then raises a plain ConnectionResetError).
    `cut("starting")`: the same, but new ones get the server's own refusal, FATAL 57P03 "the
    database system is starting up" (a restart, a failover, recovery).
    `cut("blackhole")`: every open connection is reset and new ones are accepted and
    then never answered (a partition, or a server that hangs); with `stall_open=True` the open
    connections are kept but go silent too, so a statement in flight never gets its answer.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.mode: CutMode | None = None
        self._server: asyncio.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._held: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def open_connections(self) -> int:
        """Connections currently forwarded (held blackholed ones not counted)."""
        return len(self._pairs)

    def url(self, database_url: str) -> str:
        """`database_url` (any scheme) with its host and port replaced by the proxy's."""
        parts = urlsplit(database_url)
        userinfo, _, _ = parts.netloc.rpartition("@")
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def cut(self, mode: CutMode = "refuse", *, stall_open: bool = False) -> None:
        """Take the database away: see the class docstring for what each mode does."""
        self.mode = mode
        if not (mode == "blackhole" and stall_open):
            self._reset_open()
        if mode == "refuse":
            await self._stop_listening()

    async def restore(self) -> None:
        """Give the database back: forward new connections again on the same port.

        Connections stalled or held during a blackhole are reset (their protocol state is
        lost), as a real partition's end finds them; new ones work."""
        stalled = self.mode == "blackhole"
        self.mode = None
        if stalled:
            self._reset_open()
        if self._server is None:
            await self.start()

    async def aclose(self) -> None:
        self._reset_open()
        await self._stop_listening()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _reset_open(self) -> None:
        """Reset every forwarded connection (both sides) and every held one."""
        for client, upstream in list(self._pairs):
            _reset(client)
            _reset(upstream)
        self._pairs.clear()
        for writer in list(self._held):
            _reset(writer)
        self._held.clear()

    async def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "blackhole":
            self._held.add(writer)  # accepted, never answered, never read
            return
        if self.mode in ("refuse", "reset"):
            _reset(writer)
            return
        if self.mode == "starting":
            await self._refuse_startup(reader, writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _reset(writer)
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pipe(source, sink, pair))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _refuse_startup(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Read the client's startup (after declining TLS), answer 57P03 and close."""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            length, code = struct.unpack("!II", await reader.readexactly(8))
            if code == _SSL_REQUEST:
                writer.write(b"N")
                (length,) = struct.unpack("!I", await reader.readexactly(4))
                await reader.readexactly(length - 4)
            else:
                await reader.readexactly(length - 8)
            writer.write(_fatal("57P03", "the database system is starting up"))
            await writer.drain()
        writer.close()

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        """Copy bytes one way until either side ends; drop them while blackholed."""
        try:
            while data := await source.read(65536):
                if self.mode == "blackhole":
                    continue  # a stalled connection: bytes go nowhere
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if pair in self._pairs:
                self._pairs.discard(pair)
                for side in pair:
                    side.close()


@asynccontextmanager
async def pg_proxy(database_url: str) -> AsyncIterator[PgProxy]:
    """A started proxy in front of `database_url`'s host and port, closed on exit."""
    parts = urlsplit(database_url)
    proxy = PgProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.aclose()
