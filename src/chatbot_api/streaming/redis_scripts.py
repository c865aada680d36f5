"""The Lua scripts of the Redis stream log: each a few commands made atomic and one round
trip; their KEYS and ARGV are named above each."""

from __future__ import annotations

_NOW_MS = "local t = redis.call('time') local now = t[1] * 1000 + math.floor(t[2] / 1000)"
# KEYS: stream, stop, ended, live set, active. ARGV: stream ttl, stream id, meta, chat id.
OPEN_STREAM = f"""
{_NOW_MS}
redis.call('del', KEYS[1], KEYS[2], KEYS[3])
redis.call('xadd', KEYS[1], '*', 'open', ARGV[3], 'chat', ARGV[4])
redis.call('expire', KEYS[1], ARGV[1])
redis.call('zadd', KEYS[4], now, ARGV[2])
redis.call('set', KEYS[5], ARGV[2], 'EX', ARGV[1])
return 1
"""
# Every stream's pending events in one command (at 50 tokens/s a stream rarely has two events
# in one flush, so per-stream commands would cost about one command per token). Events a
# stalled producer adds after another worker ended its log come after DONE: no reader reads
# them. KEYS: the streams. ARGV: their events, same order.
APPEND_BATCH = """
for i = 1, #KEYS do
    redis.call('xadd', KEYS[i], '*', 'e', ARGV[i])
end
return #KEYS
"""
# The last events and the end; a producer's end only while no other worker ended it.
# KEYS: stream, stop, ended, live set, active.
# ARGV: stream id, closed ttl, events ('' for none), who ('turn' or 'recovery').
END_STREAM = """
if redis.call('exists', KEYS[3]) == 1 and ARGV[4] ~= 'recovery' then return 0 end
if redis.call('exists', KEYS[1]) == 0 then return 0 end
if ARGV[3] ~= '' then redis.call('xadd', KEYS[1], '*', 'e', ARGV[3]) end
redis.call('xadd', KEYS[1], '*', 'done', '1')
redis.call('expire', KEYS[1], ARGV[2])
redis.call('del', KEYS[2])
redis.call('zrem', KEYS[4], ARGV[1])
if redis.call('get', KEYS[5]) == ARGV[1] then redis.call('del', KEYS[5]) end
return 1
"""
# Heartbeats of the streams produced here; reports those ended elsewhere, or asked to stop.
# KEYS: live set, then (ended, stop) per stream. ARGV: the stream ids.
HEARTBEAT = f"""
{_NOW_MS}
local out = {{}}
for i, id in ipairs(ARGV) do
    if redis.call('exists', KEYS[2 * i]) == 1 then
        out[#out + 1] = 'ended:' .. id
    else
        redis.call('zadd', KEYS[1], now, id)
        if redis.call('exists', KEYS[2 * i + 1]) == 1 then out[#out + 1] = 'stop:' .. id end
    end
end
return out
"""
# Logs whose heartbeat lapsed, each leased to the caller. KEYS: live set.
# ARGV: lapse ms, lease ms, how many.
CLAIM_LAPSED = f"""
{_NOW_MS}
local ids = redis.call('zrangebyscore', KEYS[1], '-inf', now - ARGV[1], 'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do redis.call('zadd', KEYS[1], now + ARGV[2], id) end
return ids
"""
# A copy this worker stopped writing (a write failed): it goes. KEYS: stream, live set, active.
# ARGV: stream id.
DROP_STREAM = """
redis.call('del', KEYS[1])
redis.call('zrem', KEYS[2], ARGV[1])
if redis.call('get', KEYS[3]) == ARGV[1] then redis.call('del', KEYS[3]) end
return 1
"""

SCRIPTS = {
    "open": OPEN_STREAM,
    "append": APPEND_BATCH,
    "end": END_STREAM,
    "heartbeat": HEARTBEAT,
    "claim": CLAIM_LAPSED,
    "drop": DROP_STREAM,
}
