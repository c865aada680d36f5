"""CPU of the PostgreSQL backends serving each server under test, from /proc.

A backend's process title names its database and its client's port (`postgres: 15/main:
postgres bench_… 127.0.0.1(54321) idle`); the server holding the socket with that local port
is the backend's owner, so the figures stay exact while servers run side by side and their
background work spills past a turn. CPU is each backend's time on a CPU from
/proc/<pid>/task/*/schedstat (nanoseconds: a turn costs PostgreSQL a few ms over several
connections, below /proc's 10 ms ticks). Backends are polled in the background, so those that
exit between two reads lose at most one period of their work.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from bench import procs

CLIENT = re.compile(r"\((\d+)\)$")
POLL_S = 0.5


@dataclass
class Backend:
    owner: str | None
    client_port: int
    cpu: float = 0.0
    lookups: int = 0


class PgMeter:
    """Per-server CPU of PostgreSQL backends of the bench databases (`databases`)."""

    def __init__(self, postmaster: int | None, owners: Callable[[], dict[str, list[int]]]):
        self.postmaster = postmaster
        self.owners = owners
        self.databases: set[str] = set()
        self.pg_port = 5432
        self.backends: dict[tuple[int, int], Backend] = {}
        self.others: set[tuple[int, int]] = set()
        self.seen_any = False
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, admin_url: str, owners: Callable[[], dict[str, list[int]]]) -> PgMeter:
        """Finds the postmaster (a backend's parent) if PostgreSQL runs on this machine."""
        conn = await asyncpg.connect(admin_url)
        try:
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            port = int(await conn.fetchval("SHOW port"))
            postmaster = procs.parent(pid)  # while the backend still lives
        finally:
            await conn.close()
        local = postmaster is not None and "postgres" in (procs.cmdline(postmaster) or "")
        meter = cls(postmaster if local else None, owners)
        meter.pg_port = port
        return meter

    @property
    def available(self) -> bool:
        return self.postmaster is not None

    def start(self) -> None:
        if self.available and self._task is None:
            self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _poll(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(POLL_S)

    def cpu(self, owner: str) -> float | None:
        """CPU seconds the backends owned by `owner` have used so far (fresh sample)."""
        if not self.available:
            return None
        self.sample()
        return sum(b.cpu for b in self.backends.values() if b.owner == owner)

    def summary(self) -> dict[str, int]:
        """Backends seen per owner (for results.json: shows the attribution worked)."""
        out: dict[str, int] = {}
        for backend in self.backends.values():
            owner = backend.owner or "unattributed"
            out[owner] = out.get(owner, 0) + 1
        return out

    def sample(self) -> None:
        if self.postmaster is None:
            return
        unresolved = []
        for pid in procs.children(self.postmaster):
            started = procs.start_time(pid)
            if started is None or (pid, started) in self.others:
                continue
            key = (pid, started)
            backend = self.backends.get(key)
            if backend is None:
                port = self._client_port(pid)
                if port is None:
                    self.others.add(key)
                    continue
                backend = self.backends[key] = Backend(None, port)
                self.seen_any = True
            if procs.SCHEDSTAT:
                times = procs.thread_seconds(pid)
                if times:
                    backend.cpu = sum(times.values())
            else:
                backend.cpu = procs.cpu_seconds([pid])
            if backend.owner is None and backend.lookups < 3:
                unresolved.append(backend)
        if unresolved:
            self._resolve(unresolved)

    def _client_port(self, pid: int) -> int | None:
        """The client port, if this backend serves one of the bench databases over TCP."""
        words = (procs.cmdline(pid) or "").split()
        for i, word in enumerate(words[:-1]):
            if word in self.databases:
                match = CLIENT.search(words[i + 1])
                return int(match.group(1)) if match else None
        return None

    def _resolve(self, backends: list[Backend]) -> None:
        by_port = {
            local: inode
            for local, remote, _, inode in procs.tcp_sockets()
            if remote == self.pg_port
        }
        wanted = {by_port[b.client_port]: b for b in backends if b.client_port in by_port}
        for backend in backends:
            backend.lookups += 1
        if not wanted:
            return
        for owner, pids in self.owners().items():
            for inode in procs.socket_inodes(pids) & wanted.keys():
                wanted.pop(inode).owner = owner
            if not wanted:
                return
