"""The Redis stream log across workers: live resume, batching, expiry of every key, the end of
a dead worker's logs, and logs kept local while Redis fails."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import cast

import orjson
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from chatbot_api.streaming.log import Recovery
from chatbot_api.streaming.redis_log import LAPSE_MS, TICK_SECONDS, Entries, RedisStreamLog
from chatbot_api.streaming.replay import cut_short_ending, replay
from chatbot_api.streaming.writer import UIMessageWriter
from tests.streaming.conftest import assemble, split_events

Workers = tuple[RedisStreamLog, RedisStreamLog, Redis, str]
META = b'{"chat": "chat-1"}'
Build = Callable[..., Awaitable[RedisStreamLog]]


@pytest.fixture
async def build(redis_url: str) -> AsyncIterator[Build]:
    """Makes logs with their own connections (one per worker), under one key prefix."""
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    clients: list[Redis] = []
    logs: list[RedisStreamLog] = []

    async def make(recover: Recovery | None = None) -> RedisStreamLog:
        client = Redis.from_url(redis_url)
        clients.append(client)
        log = RedisStreamLog(
            client, prefix=prefix, flush_ms=5, live_ttl=3600, closed_ttl=60, recover=recover
        )
        await log.start()
        logs.append(log)
        return log

    make.prefix = prefix  # type: ignore[attr-defined]
    yield make
    for log in logs:
        await log.aclose()
    inspect = Redis.from_url(redis_url)
    keys = [key async for key in inspect.scan_iter(match=prefix + "*")]
    if keys:
        await inspect.delete(*keys)
    await inspect.aclose()
    for client in clients:
        await client.aclose()


@pytest.fixture
async def workers(build: Build, redis_url: str) -> AsyncIterator[Workers]:
    """Two logs (= two workers) and an inspection client."""
    inspect = Redis.from_url(redis_url)
    yield await build(), await build(), inspect, build.prefix  # type: ignore[attr-defined]
    await inspect.aclose()


async def _collect(log: RedisStreamLog, stream_id: str) -> list[bytes]:
    return split_events([chunk async for chunk in log.read(stream_id)])


async def _created(log: RedisStreamLog, chat_id: str = "chat-1", stream_id: str = "s1") -> None:
    for _ in range(100):
        if await log.active_stream(chat_id) == stream_id:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the log was never created in Redis")


async def test_remote_reader_gets_live_events_in_order_from_start(workers: Workers) -> None:
    a, b, _, _ = workers
    await a.open("s1", "chat-1", META)
    sent = [f"data: {i}\n\n".encode() for i in range(300)]
    for event in sent[:100]:
        a.append("s1", event)
    await _created(b)
    await asyncio.sleep(0.02)
    received: list[bytes] = []
    first_live = asyncio.Event()

    async def read() -> None:
        async for chunk in b.read("s1"):
            received[:] = split_events([*received, chunk])
            if len(received) >= 101:
                first_live.set()

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.05)
    assert received == sent[:100]
    started = asyncio.get_running_loop().time()
    a.append("s1", sent[100])
    await asyncio.wait_for(first_live.wait(), 1)
    assert asyncio.get_running_loop().time() - started < 0.2  # batched, never held back
    for i, event in enumerate(sent[101:]):
        a.append("s1", event)
        if i % 25 == 0:
            await asyncio.sleep(0.001)
    await a.close("s1")
    await asyncio.wait_for(reader, 5)
    assert received == sent


async def test_a_log_and_its_events_reach_redis_in_one_write(workers: Workers) -> None:
    """Opening makes no round trip: the log is created with its first batch of events."""
    a, _, inspect, prefix = workers
    await a.open("s1", "chat-1", META)
    assert await inspect.exists(f"{prefix}stream:s1") == 0
    sent = [f"data: {i}\n\n".encode() for i in range(1000)]
    for event in sent:
        a.append("s1", event)
    await asyncio.sleep(0.05)
    entries = cast(Entries, await inspect.xrange(f"{prefix}stream:s1"))
    assert entries[0][1] == {b"open": META, b"chat": b"chat-1"}
    assert len(entries) == 2  # the open entry + one entry for the whole flush
    assert split_events([fields[b"e"] for _, fields in entries[1:]]) == sent


async def test_keys_expire_while_live_and_shortly_after_close(workers: Workers) -> None:
    a, b, inspect, prefix = workers
    await a.open("s1", "chat-1", META)
    a.append("s1", b"data: 1\n\n")
    await _created(b)
    assert 3500 < await inspect.ttl(f"{prefix}stream:s1") <= 3600
    assert 3500 < await inspect.ttl(f"{prefix}chat:chat-1:active-stream") <= 3600
    assert await inspect.zscore(f"{prefix}live-streams", "s1") is not None
    assert await b.request_stop("s1") is True
    assert 3500 < await inspect.ttl(f"{prefix}stream:s1:stop") <= 3600
    await a.close("s1")
    assert 0 < await inspect.ttl(f"{prefix}stream:s1") <= 60
    remaining = sorted([key async for key in inspect.scan_iter(match=prefix + "*")])
    assert remaining == [f"{prefix}stream:s1".encode()]


async def test_reader_ends_when_log_expires_without_close(workers: Workers) -> None:
    a, b, inspect, prefix = workers
    await a.open("s1", "chat-1", META)
    a.append("s1", b"data: 1\n\n")
    await _created(b)
    reader = asyncio.create_task(_collect(b, "s1"))
    await asyncio.sleep(0.05)
    await inspect.delete(f"{prefix}stream:s1")  # as if the key expired
    assert await asyncio.wait_for(reader, 7) == [b"data: 1\n\n"]


async def test_events_after_close_are_ignored(workers: Workers) -> None:
    a, b, _, _ = workers
    await a.open("s1", "chat-1", META)
    a.append("s1", b"data: 1\n\n")
    await a.close("s1")
    a.append("s1", b"data: 2\n\n")
    await asyncio.sleep(0.02)
    assert await _collect(b, "s1") == [b"data: 1\n\n"]
    assert await _collect(a, "s1") == [b"data: 1\n\n"]
    assert await b.active_stream("chat-1") is None


async def test_remote_replay_assembles_like_the_producer_message(
    workers: Workers, clients_dir: Path, tmp_path: Path
) -> None:
    a, b, _, _ = workers
    await a.open("s1", "chat-1", META)
    writer = UIMessageWriter(functools.partial(a.append, "s1"))
    writer.start("msg-1")
    writer.start_step()
    writer.text_start("t1")
    for word in ("Resumed ", "from ", "another ", "worker"):
        writer.text_delta("t1", word)
    await _created(b)
    reader = asyncio.create_task(_collect(b, "s1"))
    writer.end("stop")
    await a.close("s1")
    body = b"".join(await asyncio.wait_for(reader, 5))
    result = assemble(clients_dir, tmp_path, 6, body)
    assert result["errors"] == []
    assert result["message"]["parts"] == writer.message_parts()
    assert body.endswith(b"data: [DONE]\n\n")


def _die(log: RedisStreamLog) -> None:
    """The log's worker stops dead: no close, no heartbeat, no flush (as with kill -9)."""
    for task in log._tasks:
        task.cancel()


async def test_a_dead_workers_log_is_ended_by_another_within_two_seconds(
    build: Build, redis_url: str
) -> None:
    """Its heartbeat lapses; a live worker claims the log, ends it with what `recover` gives
    for the log's meta and events, and every reader gets that ending, then the end."""
    recovered: list[tuple[str, bytes, bytes]] = []

    async def recover(stream_id: str, meta: bytes, events: bytes) -> bytes:
        recovered.append((stream_id, meta, events))
        return cut_short_ending(replay(events), "The reply was interrupted.")

    dying = await build()
    survivor = await build(recover)
    await dying.open("s1", "chat-1", META)
    writer = UIMessageWriter(functools.partial(dying.append, "s1"))
    writer.start("msg-1")
    writer.start_step()
    writer.text_start("t1")
    writer.text_delta("t1", "Half an ans")
    await _created(survivor)
    await asyncio.sleep(0.05)
    reader = asyncio.create_task(_collect(survivor, "s1"))
    await asyncio.sleep(0.05)
    _die(dying)
    died = asyncio.get_running_loop().time()
    chunks = await asyncio.wait_for(reader, 5)
    assert asyncio.get_running_loop().time() - died < 2.0
    assert [stream_id for stream_id, _, _ in recovered] == ["s1"]
    assert recovered[0][1] == META
    types = [orjson.loads(c.removeprefix(b"data: "))["type"] for c in chunks[:-1]]
    assert types == [
        "start",
        "start-step",
        "text-start",
        "text-delta",
        "text-end",
        "error",
        "finish-step",
        "finish",
    ]
    assert chunks[-1] == b"data: [DONE]\n\n"
    assert await survivor.active_stream("chat-1") is None
    assert await survivor.request_stop("s1") is False


async def test_a_producer_taken_for_dead_writes_no_more_and_is_stopped(
    build: Build, redis_url: str
) -> None:
    """A producer whose heartbeat lapsed (a stall) but that lives on: once another worker ended
    its log, its later events stay out of Redis and it is asked to stop."""

    async def recover(stream_id: str, meta: bytes, events: bytes) -> bytes:
        return b"data: [DONE]\n\n"  # the ending the survivor gives it

    stalled = await build()
    await stalled.open("s1", "chat-1", META)
    stalled.append("s1", b"data: 1\n\n")
    await _created(stalled)
    stopped = asyncio.Event()
    stalled.on_stop("s1", stopped.set)
    ticking = stalled._tasks[2]  # its heartbeat stalls for longer than the lapse
    ticking.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ticking
    await build(recover)
    await asyncio.sleep(LAPSE_MS / 1000 + 4 * TICK_SECONDS)
    stalled._tasks[2] = asyncio.create_task(stalled._tick_forever())  # it wakes up
    await asyncio.wait_for(stopped.wait(), 2)
    stalled.append("s1", b"data: 2\n\n")
    await asyncio.sleep(0.05)
    await stalled.close("s1")
    reader = await build()
    assert await _collect(reader, "s1") == [b"data: 1\n\n", b"data: [DONE]\n\n"]


async def test_producing_worker_keeps_only_what_its_first_reader_has_not_read(
    workers: Workers,
) -> None:
    """The turn's own response reads the local copy, which drops what it sent; any other
    reader on the same worker replays from Redis, from the start; once the first reader is
    gone nothing is buffered locally."""
    a, _, _, _ = workers
    await a.open("s1", "chat-1", META)
    sent = [f"data: {i}\n\n".encode() for i in range(300)]
    first: list[bytes] = []

    async def read_into(out: list[bytes]) -> None:
        async for chunk in a.read("s1"):
            out[:] = split_events([*out, chunk])

    reader = asyncio.create_task(read_into(first))
    await asyncio.sleep(0.01)
    for event in sent[:100]:
        a.append("s1", event)
    await asyncio.sleep(0.05)
    assert first == sent[:100]
    local = a._local["s1"]
    assert len(local.buffer) == 0

    second: list[bytes] = []
    late = asyncio.create_task(read_into(second))
    await asyncio.sleep(0.05)
    assert second == sent[:100]
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    for event in sent[100:]:
        a.append("s1", event)
    assert len(local.buffer) == 0
    await a.close("s1")
    await asyncio.wait_for(late, 5)
    assert second == sent


async def test_a_log_opened_and_closed_before_any_write_is_created_then_closed(
    workers: Workers,
) -> None:
    a, b, _, _ = workers
    await a.open("s1", "chat-1", META)
    a.append("s1", b"data: 1\n\n")
    await a.close("s1")  # within the same flush interval
    assert await asyncio.wait_for(_collect(b, "s1"), 2) == [b"data: 1\n\n"]
    assert await b.active_stream("chat-1") is None


async def test_a_log_whose_write_failed_stays_local_and_new_ones_too_until_redis_answers(
    workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write fails: that log's own reader still gets every event, nothing more of it goes
    to Redis and its copy there is dropped once Redis answers; logs opened meanwhile are kept
    in this process (resumable here) until then."""
    a, b, inspect, prefix = workers
    real = a._write_in
    failures = 0

    async def failing_once(*args: object, **kwargs: object) -> None:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise RedisConnectionError("Redis went away")
        await real(*args, **kwargs)  # type: ignore[arg-type]

    await a.open("s1", "chat-1", META)
    a.append("s1", b"data: 0\n\n")
    await _created(b)
    monkeypatch.setattr(a, "_write_in", failing_once)
    own = asyncio.create_task(_collect(a, "s1"))
    sent = [f"data: {i}\n\n".encode() for i in range(10)]
    for event in sent[1:5]:
        a.append("s1", event)
    await asyncio.sleep(0.03)  # the failed write
    assert failures == 1
    await a.open("s2", "chat-2", META)  # Redis is known to fail: kept here
    assert await a.active_stream("chat-2") == "s2"
    local_reader = asyncio.create_task(_collect(a, "s2"))
    a.append("s2", b"data: local\n\n")
    for event in sent[5:]:
        a.append("s1", event)
    await asyncio.sleep(3 * TICK_SECONDS)  # the heartbeat gets through: Redis answers again
    assert await inspect.exists(f"{prefix}stream:s1") == 0
    assert await b.active_stream("chat-1") is None
    await a.close("s1")
    await a.close("s2")
    assert await asyncio.wait_for(own, 2) == sent
    assert await asyncio.wait_for(local_reader, 2) == [b"data: local\n\n"]
    await a.open("s3", "chat-3", META)  # healthy again: to Redis
    await _created(b, "chat-3", "s3")
    await a.close("s3")
