"""The Redis stream log across workers: live resume, batching latency, expiry of every key."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from chatbot_api.streaming.redis_log import LIVENESS_TTL, RedisStreamLog
from chatbot_api.streaming.writer import UIMessageWriter
from tests.streaming.conftest import assemble, split_events

Workers = tuple[RedisStreamLog, RedisStreamLog, Redis, str]


@pytest.fixture
async def workers(redis_url: str) -> AsyncIterator[Workers]:
    """Two logs with their own connections (= two workers) and an inspection client."""
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    clients = [Redis.from_url(redis_url) for _ in range(3)]
    a = RedisStreamLog(clients[0], prefix=prefix, flush_ms=5, live_ttl=3600, closed_ttl=60)
    b = RedisStreamLog(clients[1], prefix=prefix, flush_ms=5, live_ttl=3600, closed_ttl=60)
    yield a, b, clients[2], prefix
    await a.aclose()
    await b.aclose()
    keys = [key async for key in clients[2].scan_iter(match=prefix + "*")]
    if keys:
        await clients[2].delete(*keys)
    for client in clients:
        await client.aclose()


async def test_remote_reader_gets_live_events_in_order_from_start(workers: Workers) -> None:
    a, b, _, _ = workers
    await a.open("s1", "chat-1")
    sent = [f"data: {i}\n\n".encode() for i in range(300)]
    for event in sent[:100]:
        a.append("s1", event)
    await asyncio.sleep(0.05)
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


async def test_appends_are_batched_into_few_writes(workers: Workers) -> None:
    a, _, inspect, prefix = workers
    await a.open("s1", "chat-1")
    sent = [f"data: {i}\n\n".encode() for i in range(1000)]
    for event in sent:
        a.append("s1", event)
    await asyncio.sleep(0.05)
    entries = await inspect.xrange(f"{prefix}stream:s1")
    assert len(entries) == 2  # the open marker + one entry for the whole flush
    assert split_events([fields[b"e"] for _, fields in entries[1:]]) == sent


async def test_keys_expire_while_live_and_shortly_after_close(workers: Workers) -> None:
    a, b, inspect, prefix = workers
    await a.open("s1", "chat-1")
    a.append("s1", b"data: 1\n\n")
    await asyncio.sleep(0.05)
    assert 3500 < await inspect.ttl(f"{prefix}stream:s1") <= 3600
    for key in (f"{prefix}stream:s1:live", f"{prefix}chat:chat-1:active-stream"):
        assert 0 < await inspect.ttl(key) <= LIVENESS_TTL, key  # kept alive by the heartbeat
    assert await b.request_stop("s1") is True
    assert 3500 < await inspect.ttl(f"{prefix}stream:s1:stop") <= 3600
    await a.close("s1")
    assert 0 < await inspect.ttl(f"{prefix}stream:s1") <= 60
    remaining = sorted([key async for key in inspect.scan_iter(match=prefix + "*")])
    assert remaining == [f"{prefix}stream:s1".encode()]


async def test_reader_ends_when_log_expires_without_close(workers: Workers) -> None:
    a, b, inspect, prefix = workers
    await a.open("s1", "chat-1")
    a.append("s1", b"data: 1\n\n")
    await asyncio.sleep(0.05)
    reader = asyncio.create_task(_collect(b, "s1"))
    await asyncio.sleep(0.05)
    await inspect.delete(f"{prefix}stream:s1")  # as if the producer died and the key expired
    assert await asyncio.wait_for(reader, 7) == [b"data: 1\n\n"]


async def test_events_after_close_are_ignored(workers: Workers) -> None:
    a, b, _, _ = workers
    await a.open("s1", "chat-1")
    a.append("s1", b"data: 1\n\n")
    await a.close("s1")
    a.append("s1", b"data: 2\n\n")
    await asyncio.sleep(0.02)
    assert await _collect(b, "s1") == [b"data: 1\n\n"]
    assert await _collect(a, "s1") == [b"data: 1\n\n"]


async def _collect(stream_log: RedisStreamLog, stream_id: str) -> list[bytes]:
    return split_events([chunk async for chunk in stream_log.read(stream_id)])


async def test_remote_replay_assembles_like_the_producer_message(
    workers: Workers, clients_dir: Path, tmp_path: Path
) -> None:
    a, b, _, _ = workers
    await a.open("s1", "chat-1")
    writer = UIMessageWriter(functools.partial(a.append, "s1"))
    writer.start("msg-1")
    writer.start_step()
    writer.text_start("t1")
    for word in ("Resumed ", "from ", "another ", "worker"):
        writer.text_delta("t1", word)
    reader = asyncio.create_task(_collect(b, "s1"))
    writer.text_end("t1")
    writer.finish_step()
    writer.finish("stop")
    writer.done()
    await a.close("s1")
    body = b"".join(await asyncio.wait_for(reader, 5))
    result = assemble(clients_dir, tmp_path, 6, body)
    assert result["errors"] == []
    assert result["message"]["parts"] == writer.message_parts()
    assert body.endswith(b"data: [DONE]\n\n")


async def test_remote_reader_ends_when_producer_dies(workers: Workers) -> None:
    a, b, inspect, prefix = workers
    await a.open("s1", "chat-1")
    a.append("s1", b"data: 1\n\n")
    await asyncio.sleep(0.05)
    received: list[bytes] = []

    async def read_all() -> None:
        async for chunk in b.read("s1"):
            received.append(chunk)

    reader = asyncio.create_task(read_all())
    await asyncio.sleep(0.1)
    # The producing worker vanishes: no close, no heartbeat; its liveness key lapses.
    await inspect.delete(f"{prefix}stream:s1:live")
    await asyncio.wait_for(reader, timeout=5)
    assert received == [b"data: 1\n\n"]
    assert await inspect.exists(f"{prefix}stream:s1")  # the replay stays until expiry


async def test_producing_worker_keeps_only_what_its_first_reader_has_not_read(
    workers: Workers,
) -> None:
    """The turn's own response reads the local copy, which drops what it sent; any other
    reader on the same worker replays from Redis, from the start; once the first reader is
    gone nothing is buffered locally."""
    a, _, _, _ = workers
    await a.open("s1", "chat-1")
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


async def test_a_log_opened_without_its_chat_reaches_redis_with_the_next_write(
    workers: Workers,
) -> None:
    """Opening a log for a turn still being admitted makes no round trip: the log is created
    in Redis with the next batch, ahead of its events and its activation, and another worker
    then resumes it whole."""
    a, b, inspect, prefix = workers
    key = f"{prefix}stream:s1"
    await a.open("s1", None)
    assert await inspect.exists(key) == 0  # nothing written yet
    sent = [f"data: {i}\n\n".encode() for i in range(20)]
    for event in sent[:10]:
        a.append("s1", event)
    a.activate("s1", "chat-1")
    for _ in range(100):
        if await b.active_stream("chat-1") == "s1":
            break
        await asyncio.sleep(0.01)
    assert await b.active_stream("chat-1") == "s1"
    entries = await inspect.xrange(key)
    assert entries[0][1] == {b"open": b"1"}
    assert await inspect.ttl(key) > 0
    reader = asyncio.create_task(_collect(b, "s1"))
    for event in sent[10:]:
        a.append("s1", event)
    await a.close("s1")
    assert await asyncio.wait_for(reader, 5) == sent


async def test_a_log_opened_and_closed_before_any_write_is_created_then_closed(
    workers: Workers,
) -> None:
    a, b, _, _ = workers
    await a.open("s1", None)
    a.append("s1", b"data: 1\n\n")
    a.activate("s1", "chat-1")
    await a.close("s1")  # within the same flush interval
    assert await asyncio.wait_for(_collect(b, "s1"), 2) == [b"data: 1\n\n"]
    assert await b.active_stream("chat-1") is None


async def test_a_log_redis_could_not_create_stays_local(
    workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write that would create the log in Redis fails: the log's own reader still gets
    every event, but nothing of it reaches Redis later and it never becomes the chat's."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    a, b, inspect, prefix = workers
    real = a._write_in
    failures = 0

    async def failing_once(*args: object, **kwargs: object) -> None:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise RedisConnectionError("Redis went away")
        await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(a, "_write_in", failing_once)
    await a.open("s1", None)
    own = asyncio.create_task(_collect(a, "s1"))
    sent = [f"data: {i}\n\n".encode() for i in range(10)]
    for event in sent[:5]:
        a.append("s1", event)
    await asyncio.sleep(0.05)  # the failed write
    assert failures == 1
    a.activate("s1", "chat-1")
    for event in sent[5:]:
        a.append("s1", event)
    await asyncio.sleep(0.05)
    await a.close("s1")
    assert await asyncio.wait_for(own, 2) == sent
    assert await inspect.exists(f"{prefix}stream:s1") == 0
    assert await b.active_stream("chat-1") is None


async def _collect(log: RedisStreamLog, stream_id: str) -> list[bytes]:
    return split_events([chunk async for chunk in log.read(stream_id)])
