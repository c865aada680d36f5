"""Processes under test: started as subprocesses (pinned with `taskset` when asked) on ports
nothing else uses, their CPU time and memory read from /proc (the process and its descendants).

Ports come from outside the kernel's ephemeral range (so no outgoing connection takes one
between the pick and the bind), are bind-checked when picked, and a server that loses its port
anyway (it exits, or another process answers on it) is started again on a new one.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
LISTEN = 0x0A  # TCP state in /proc/net/tcp
_rng = random.SystemRandom()


def _port_window() -> tuple[int, int]:
    """The ports to pick from: below the ephemeral range (or above it if it starts low)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            low, high = (int(v) for v in fh.read().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    if low > 12000:
        return 10000, low - 1
    return high + 1, 65535


def bindable(port: int) -> bool:
    """Nothing is bound to 127.0.0.1:port (no SO_REUSEADDR: TIME_WAIT counts as taken)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port outside the ephemeral range that nothing is bound to right now."""
    low, high = _port_window()
    for _ in range(500):
        port = _rng.randint(low, high)
        if bindable(port):
            return port
    raise RuntimeError(f"no free port found in {low}-{high}")


def tcp_sockets() -> list[tuple[int, int, int, int]]:
    """(local port, remote port, state, inode) of every TCP socket in this network namespace."""
    out = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as fh:
                lines = fh.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, remote = cols[1].rsplit(":", 1)[1], cols[2].rsplit(":", 1)[1]
            out.append((int(local, 16), int(remote, 16), int(cols[3], 16), int(cols[9])))
    return out


def socket_inodes(pids: Iterable[int]) -> set[int]:
    """Inodes of the sockets these processes hold open."""
    found = set()
    for pid in pids:
        try:
            entries = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for entry in entries:
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{entry}")
                if target.startswith("socket:["):
                    found.add(int(target[8:-1]))
    return found


def listener_owned(port: int, pids: list[int]) -> bool | None:
    """Whether the socket listening on `port` belongs to these processes (None: none found)."""
    listeners = {inode for lp, _, st, inode in tcp_sockets() if lp == port and st == LISTEN}
    if not listeners:
        return None
    return bool(listeners & socket_inodes(pids))


def _stat(pid: int) -> list[bytes] | None:
    """/proc/<pid>/stat from field 3 (state) on, or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """When the process started (clock ticks since boot): with the pid, a unique identity."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def cmdline(pid: int) -> str | None:
    """The process's command line (or title), arguments joined by spaces."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


def parent(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields else None


def children(pid: int) -> list[int]:
    """Direct children: from /proc/<pid>/task/*/children, else by scanning every ppid."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    try:
        for task in tasks:
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found.extend(int(p) for p in fh.read().split())
        return found
    except FileNotFoundError:  # a kernel without CONFIG_PROC_CHILDREN, or a thread just ended
        pass
    except OSError:
        return []
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and parent(int(e)) == pid]


def tree(pid: int) -> list[int]:
    pids = [pid]
    for child in children(pid):
        pids.extend(tree(child))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (own threads included), from /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLK_TCK


SCHEDSTAT = os.path.exists("/proc/self/schedstat")


def thread_seconds(pid: int) -> dict[int, float]:
    """Time on a CPU of each thread of the process, to the nanosecond (schedstat): a turn
    costs a few ms in short bursts, which /proc/<pid>/stat's 10 ms ticks round away."""
    out: dict[int, float] = {}
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as fh:
                out[int(task)] = int(fh.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            continue  # the thread just ended
    return out


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


def http_ready(path: str = "/health") -> Callable[[int], bool]:
    def probe(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(
                    f"GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".encode()
                )
                return sock.recv(64).startswith(b"HTTP/1.1 2")
        except OSError:
            return False

    return probe


def redis_ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class PortLost(RuntimeError):
    """The server could not have its port: another process took it first."""


@dataclass
class Proc:
    """A server under test. `{port}` in `argv` and in `env` values becomes its port."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cpu: str | None = None  # taskset CPU list, e.g. "0"
    cwd: Path | None = None
    log_path: Path | None = None
    ready: Callable[[int], bool] = field(default_factory=http_ready)
    port: int = 0
    popen: subprocess.Popen[bytes] | None = None
    pids: list[int] = field(default_factory=list)
    threads: dict[int, float] = field(default_factory=dict)  # tid → CPU seconds last seen
    stopped: bool = False  # by `stop`: a start still under way (in a thread) gives up
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, timeout: float = 60.0, attempts: int = 5) -> None:
        for _ in range(attempts):
            self.port = free_port()
            try:
                self._spawn()
                self._wait(timeout)
                return
            except PortLost:
                self._kill()
        raise RuntimeError(f"{self.name}: lost its port {attempts} times; see {self.log_path}")

    def _spawn(self) -> None:
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        env = {k: v.replace("{port}", str(self.port)) for k, v in self.env.items()}
        if self.cpu is not None and shutil.which("taskset"):
            argv = ["taskset", "-c", self.cpu, *argv]
        with self._lock:
            if self.stopped:
                raise RuntimeError(f"{self.name}: stopped before it started")
            log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
            self.popen = subprocess.Popen(
                argv,
                env={**os.environ, **env},
                cwd=self.cwd,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def _wait(self, timeout: float) -> None:
        assert self.popen is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopped:
            if self.popen.poll() is not None:
                if not bindable(self.port):
                    raise PortLost(self.name)
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}; see log")
            if self.ready(self.port):
                self.pids = tree(self.popen.pid)
                if listener_owned(self.port, self.pids) is False:
                    raise PortLost(self.name)  # a stranger answered on the port
                return
            time.sleep(0.1)
        if self.stopped:
            raise RuntimeError(f"{self.name}: stopped before it answered")
        raise RuntimeError(f"{self.name} did not answer on port {self.port} within {timeout} s")

    def refresh(self) -> None:
        if self.popen is not None:
            self.pids = tree(self.popen.pid)

    def cpu_seconds(self) -> float:
        """CPU seconds of the process tree so far: per thread from schedstat (a thread that
        ended keeps its last reading), or from /proc/<pid>/stat where schedstat is missing."""
        if not SCHEDSTAT:
            return cpu_seconds(self.pids)
        for pid in self.pids:
            self.threads.update(thread_seconds(pid))
        return sum(self.threads.values())

    def rss(self) -> int:
        return rss_bytes(self.pids)

    def stop(self) -> None:
        """Stops the server for good (also one still starting in another thread)."""
        with self._lock:
            self.stopped = True
        self._kill()

    def _kill(self) -> None:
        with self._lock:
            popen = self.popen
        if popen is None or popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGTERM)
        try:
            popen.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(5)
