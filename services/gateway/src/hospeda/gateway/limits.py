"""Brute-force protection in Redis: fixed windows counted per account and per IP.

Failed logins (and failed 2FA codes) count against the account and the
client IP; once either reaches its limit, attempts are refused — before the
password is even checked — until the window ends, with the seconds left.
"""

from __future__ import annotations

import redis.asyncio as redis

from hospeda.gateway.config import GatewaySettings
from hospeda.gateway.problems import ApiError
from hospeda.gateway.security import digest

PREFIX = "hospeda:limit:"


def too_many(retry_after: int) -> ApiError:
    retry_after = max(1, retry_after)
    return ApiError(
        "too_many_attempts",
        429,
        headers={"Retry-After": str(retry_after)},
        extra={"retry_after": retry_after},
        retry_after=retry_after,
    )


class Limiter:
    """Counters with a time window."""

    def __init__(self, client: redis.Redis, settings: GatewaySettings) -> None:
        self.redis = client
        self.window = settings.login_window_s
        self.per_account = settings.login_max_failures_per_account
        self.per_ip = settings.login_max_failures_per_ip
        self.email_requests = settings.email_requests_per_window

    @staticmethod
    def _account(email: str) -> str:
        return PREFIX + "login:account:" + digest(email.lower())

    @staticmethod
    def _ip(ip: str | None) -> str:
        return PREFIX + "login:ip:" + (ip or "unknown")

    async def _refuse_over(self, limits: list[tuple[str, int]]) -> None:
        counts = await self.redis.mget([key for key, _ in limits])
        for (key, limit), count in zip(limits, counts, strict=True):
            if count is not None and int(count) >= limit:
                ttl = await self.redis.ttl(key)
                raise too_many(ttl if ttl > 0 else self.window)

    async def _count(self, *keys: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.set(key, 0, ex=self.window, nx=True)  # the window starts at the first failure
                pipe.incr(key)
            await pipe.execute()

    async def check_login(self, email: str, ip: str | None) -> None:
        """Refuse (429) when the account or the IP is locked out."""
        await self._refuse_over(
            [(self._account(email), self.per_account), (self._ip(ip), self.per_ip)]
        )

    async def login_failed(self, email: str, ip: str | None) -> None:
        await self._count(self._account(email), self._ip(ip))

    async def login_succeeded(self, email: str) -> None:
        await self.redis.delete(self._account(email))

    async def spend_email_request(self, ip: str | None, email: str | None = None) -> None:
        """Sign-ups, resets and re-sent links: a few per IP (and address) per window,
        so nobody floods an inbox or the platform's reputation."""
        keys = [(PREFIX + "email:ip:" + (ip or "unknown"), self.email_requests)]
        if email:
            keys.append((PREFIX + "email:to:" + digest(email.lower()), self.email_requests))
        await self._refuse_over(keys)
        await self._count(*(key for key, _ in keys))
