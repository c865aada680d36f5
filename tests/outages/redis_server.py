"""A `redis-server` process of the test's own, on a free port and in its own directory: the
test stops it, starts it again on the same port, or freezes it (SIGSTOP: connections hang,
as with a blackholed host). Never the machine's shared Redis."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

START_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (at the moment of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server without persistence (`--save "" --appendonly no`): stopped, it comes
    back empty, as a cache whose host restarted."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._frozen = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start it (again, on the same port) and return once it answers PING."""
        if self.running:
            raise RuntimeError("redis-server is already running")
        executable = shutil.which("redis-server")
        if executable is None:
            raise FileNotFoundError("redis-server is not on PATH")
        self.directory.mkdir(parents=True, exist_ok=True)
        logfile = self.directory / "redis.log"
        args = [executable, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        args += ["--logfile", str(logfile)]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers_ping():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = logfile.read_text() if logfile.exists() else ""
                raise RuntimeError(f"redis-server did not start on {self.port}:\n{log}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill it (SIGKILL, as a crash) and wait until it is gone: connections are refused."""
        process, self._process = self._process, None
        if process is None:
            return
        if self._frozen:
            _continue(process)
            self._frozen = False
        process.kill()
        process.wait(timeout=10)

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections, but nothing is ever answered."""
        if self._process is None:
            raise RuntimeError("redis-server is not running")
        os.kill(self._process.pid, signal.SIGSTOP)
        self._frozen = True

    def thaw(self) -> None:
        """SIGCONT: it answers again (what it was sent while frozen included)."""
        if self._process is not None and self._frozen:
            _continue(self._process)
            self._frozen = False

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def _continue(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGCONT)
