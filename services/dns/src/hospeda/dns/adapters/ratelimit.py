"""A rate limiter shared by every worker that uses one API token (Redis).

A sliding window: at most ``limit`` grants in any ``window`` seconds, timed by
the Redis server's clock so every process agrees. After a 429 the provider's
``Retry-After`` pauses every worker sharing the token, not just the one that
was told.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from typing import Any

from redis.asyncio import Redis

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return paused end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now + 1)
"""

_PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
"""


def token_fingerprint(token: str) -> str:
    """A stable, non-reversible name for a token (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class RateLimiter:
    """``await limiter.acquire()`` before each request; ``await limiter.pause(s)``
    when the provider answered 429 with ``Retry-After: s``."""

    def __init__(self, redis: Redis, *, name: str, limit: int, window_s: float) -> None:
        self.redis = redis
        self.limit = limit
        self.window_ms = int(window_s * 1000)
        self._keys = [f"hospeda:ratelimit:{name}:window", f"hospeda:ratelimit:{name}:pause"]
        self._acquire: Any = redis.register_script(_ACQUIRE)
        self._pause: Any = redis.register_script(_PAUSE)
        self.waits = 0

    async def acquire(self) -> None:
        """Wait until a request may be sent, then count it."""
        while True:
            member = f"{random.getrandbits(64):016x}"
            wait_ms = int(
                await self._acquire(keys=self._keys, args=[self.limit, self.window_ms, member])
            )
            if wait_ms <= 0:
                return
            self.waits += 1
            # spread the sleepers so they do not all wake at the same millisecond
            await asyncio.sleep(wait_ms / 1000 + random.uniform(0, 0.05))

    async def pause(self, seconds: float) -> None:
        """Hold every request of this token for ``seconds``."""
        await self._pause(keys=self._keys[1:], args=[max(1, int(seconds * 1000))])
