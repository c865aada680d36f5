"""Processes under test: started as subprocesses (pinned with `taskset` when asked), their CPU
time and memory read from /proc (the process plus all its descendants)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def tree(pid: int) -> list[int]:
    pids = [pid]
    for child in _children(pid):
        pids.extend(tree(child))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (own threads included), from /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLK_TCK


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except OSError:
            continue
    return total


def self_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


@dataclass
class Proc:
    """A server under test."""

    name: str
    argv: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    cpu: str | None = None  # taskset CPU list, e.g. "0"
    cwd: Path | None = None
    log_path: Path | None = None
    health: str = "/health"
    popen: subprocess.Popen[bytes] | None = None
    pids: list[int] = field(default_factory=list)

    def start(self, timeout: float = 60.0) -> None:
        argv = list(self.argv)
        if self.cpu is not None and shutil.which("taskset"):
            argv = ["taskset", "-c", self.cpu, *argv]
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.popen = subprocess.Popen(
            argv,
            env={**os.environ, **self.env},
            cwd=self.cwd,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}; see log")
            if _healthy(self.port, self.health):
                self.pids = tree(self.popen.pid)
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer {self.health} within {timeout} s")

    def refresh(self) -> None:
        if self.popen is not None:
            self.pids = tree(self.popen.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pids)

    def rss(self) -> int:
        return rss_bytes(self.pids)

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)


def _healthy(port: int, path: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".encode())
            return sock.recv(64).startswith(b"HTTP/1.1 2")
    except OSError:
        return False
