"""Stream logs (memory and Redis): replay from start, fan-out, end on close, stop requests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from chatbot_api.streaming.log import StreamLog
from chatbot_api.streaming.memory import MemoryStreamLog
from chatbot_api.streaming.redis_log import RedisStreamLog
from tests.streaming.conftest import split_events

NewWorker = Callable[[], Awaitable[StreamLog]]


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> str | None:
    """None for the memory log, else the Redis URL (skips when Redis is missing)."""
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture
async def new_worker(backend: str | None) -> AsyncIterator[NewWorker]:
    """Builds stream logs as separate workers would (memory: one shared process log)."""
    logs: list[StreamLog] = []
    clients: list[Redis] = []
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    shared = MemoryStreamLog()

    async def build() -> StreamLog:
        if backend is None:
            return shared
        client = Redis.from_url(backend)
        clients.append(client)
        stream_log = RedisStreamLog(client, prefix=prefix, flush_ms=5)
        await stream_log.start()
        logs.append(stream_log)
        return stream_log

    yield build
    for stream_log in logs:
        await stream_log.aclose()
    await shared.aclose()
    for client in clients:
        await client.aclose()


async def collect(stream_log: StreamLog, stream_id: str) -> list[bytes]:
    return split_events([chunk async for chunk in stream_log.read(stream_id)])


async def created(stream_log: StreamLog, chat_id: str, stream_id: str) -> None:
    """Until the chat's active stream is `stream_id` (Redis: created with the next write)."""
    for _ in range(100):
        if await stream_log.active_stream(chat_id) == stream_id:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{stream_id} never became {chat_id}'s active stream")


def events(n: int, start: int = 0) -> list[bytes]:
    return [f'data: {{"n":{i}}}\n\n'.encode() for i in range(start, start + n)]


async def test_late_reader_gets_every_event_from_start(new_worker: NewWorker) -> None:
    producer = await new_worker()
    await producer.open("s1", "chat-1", b"{}")
    for event in events(50):
        producer.append("s1", event)
    reader = asyncio.create_task(collect(producer, "s1"))
    await asyncio.sleep(0.02)
    for event in events(50, 50):
        producer.append("s1", event)
    await producer.close("s1")
    assert await asyncio.wait_for(reader, 5) == events(100)


async def test_several_readers_each_get_all_events_in_order(new_worker: NewWorker) -> None:
    producer = await new_worker()
    await producer.open("s1", "chat-1", b"{}")
    await created(producer, "chat-1", "s1")
    readers = [asyncio.create_task(collect(producer, "s1")) for _ in range(5)]
    for i, event in enumerate(events(200)):
        producer.append("s1", event)
        if i % 20 == 0:
            await asyncio.sleep(0)
    await producer.close("s1")
    results = await asyncio.wait_for(asyncio.gather(*readers), 5)
    assert all(result == events(200) for result in results)


async def test_reader_ends_when_log_closed(new_worker: NewWorker) -> None:
    producer = await new_worker()
    await producer.open("s1", "chat-1", b"{}")
    producer.append("s1", b"data: 1\n\n")
    reader = asyncio.create_task(collect(producer, "s1"))
    await asyncio.sleep(0.05)
    assert not reader.done()
    await producer.close("s1")
    assert await asyncio.wait_for(reader, 5) == [b"data: 1\n\n"]


async def test_read_unknown_stream_ends_at_once(new_worker: NewWorker) -> None:
    worker = await new_worker()
    assert await asyncio.wait_for(collect(worker, "missing"), 1) == []


async def test_closed_log_still_replays_until_expiry(new_worker: NewWorker) -> None:
    producer = await new_worker()
    await producer.open("s1", "chat-1", b"{}")
    producer.append("s1", b"data: 1\n\n")
    await producer.close("s1")
    other = await new_worker()
    assert await asyncio.wait_for(collect(other, "s1"), 2) == [b"data: 1\n\n"]


async def test_active_stream_follows_open_and_close(new_worker: NewWorker) -> None:
    producer = await new_worker()
    other = await new_worker()
    assert await other.active_stream("chat-1") is None
    await producer.open("s1", "chat-1", b"{}")
    await created(other, "chat-1", "s1")
    await producer.open("s2", "chat-1", b"{}")  # a newer turn of the same chat
    await created(other, "chat-1", "s2")
    await producer.close("s1")
    assert await other.active_stream("chat-1") == "s2"
    await producer.close("s2")
    assert await other.active_stream("chat-1") is None


async def test_stop_request_reaches_producer(new_worker: NewWorker) -> None:
    producer = await new_worker()
    other = await new_worker()
    await producer.open("s1", "chat-1", b"{}")
    stopped = asyncio.Event()
    producer.on_stop("s1", stopped.set)
    await asyncio.sleep(0.05)  # Redis: the log is created with the next write
    started = asyncio.get_running_loop().time()
    assert await other.request_stop("s1") is True
    await asyncio.wait_for(stopped.wait(), 1)
    assert asyncio.get_running_loop().time() - started < 0.5
    await producer.close("s1")
    assert await other.request_stop("s1") is False


async def test_stop_requested_before_watching_is_seen(new_worker: NewWorker) -> None:
    producer = await new_worker()
    other = await new_worker()
    await producer.open("s1", "chat-1", b"{}")
    await asyncio.sleep(0.05)
    assert await other.request_stop("s1") is True
    await asyncio.sleep(0.05)
    stopped = asyncio.Event()
    producer.on_stop("s1", stopped.set)
    await asyncio.wait_for(stopped.wait(), 1)


async def test_stop_of_unknown_stream_is_refused(new_worker: NewWorker) -> None:
    worker = await new_worker()
    assert await worker.request_stop("missing") is False


async def test_memory_log_evicts_closed_logs_after_ttl_and_beyond_bound() -> None:
    stream_log = MemoryStreamLog(closed_ttl=0.05, max_closed=2)
    for stream_id in ("s1", "s2", "s3"):
        await stream_log.open(stream_id, "chat-" + stream_id, b"{}")
        stream_log.append(stream_id, b"data: 1\n\n")
        await stream_log.close(stream_id)
    assert await collect(stream_log, "s1") == []  # beyond max_closed
    assert await collect(stream_log, "s3") == [b"data: 1\n\n"]
    await asyncio.sleep(0.1)
    assert await collect(stream_log, "s3") == []
    await stream_log.aclose()


async def test_memory_log_bounds_the_bytes_of_closed_logs() -> None:
    """Ended turns' logs hold at most `max_closed_bytes` together, oldest evicted first; the
    one closed last stays even when it alone is larger (its reader may be about to attach);
    a live log is never evicted."""
    event = b"data: " + b"x" * 94 + b"\n\n"  # 102 bytes
    stream_log = MemoryStreamLog(max_closed_bytes=250)
    await stream_log.open("live", "chat-live")
    stream_log.append("live", event * 50)
    for stream_id in ("s1", "s2", "s3"):
        await stream_log.open(stream_id, "chat-" + stream_id, b"{}")
        stream_log.append(stream_id, event)
        await stream_log.close(stream_id)
    assert await collect(stream_log, "s1") == []  # 3 x 102 > 250: the oldest went
    assert await collect(stream_log, "s2") == [event]
    assert await collect(stream_log, "s3") == [event]
    await stream_log.open("big", "chat-big")
    stream_log.append("big", event * 5)
    await stream_log.close("big")
    assert await collect(stream_log, "s2") == []
    assert await collect(stream_log, "s3") == []
    assert await collect(stream_log, "big") == [event] * 5  # over budget alone, still kept
    await stream_log.open("s4", "chat-s4", b"{}")
    stream_log.append("s4", event)
    await stream_log.close("s4")
    assert await collect(stream_log, "big") == []
    assert await collect(stream_log, "s4") == [event]
    assert await stream_log.active_stream("chat-live") == "live"
    await stream_log.close("live")  # the live one was never counted nor evicted
    assert await collect(stream_log, "live") == [event] * 50
    await stream_log.aclose()


async def test_memory_log_closes_live_log_after_live_ttl() -> None:
    stream_log = MemoryStreamLog(live_ttl=0.05)
    await stream_log.open("s1", "chat-1", b"{}")
    reader = asyncio.create_task(collect(stream_log, "s1"))
    assert await asyncio.wait_for(reader, 1) == []
    assert await stream_log.active_stream("chat-1") is None
    await stream_log.aclose()
