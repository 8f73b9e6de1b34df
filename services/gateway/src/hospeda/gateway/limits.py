"""Brute-force protection in Redis (the policy: docs/gateway-security.md).

Every attempt to prove who someone is (a password, a 2FA or recovery code)
first *claims* a slot in each of its counters, in one atomic Lua step: the
check and the count cannot be separated by concurrent requests, so 50 wrong
passwords sent at once are 5 tries, not 50. A failed attempt keeps its slot;
a right password gives its slot back; a full sign-in clears the account's
counters.

The limits are chosen so that nobody can lock someone else out:

- per (account, client address): a hard cap per window — one attacker's
  address is stopped without touching anyone else;
- per account, from anywhere: a growing delay (1 s, 2 s, 4 s … up to the
  window) once the cap is reached, never a hard lock;
- per client address, across accounts (password spraying): a hard cap;
- a *known device* — a browser holding the signed cookie set at its last full
  sign-in to this account — skips the per-account and per-address limits and
  has its own cap: the owner still gets in while the account is under attack.

Second-factor failures have counters of their own that a right password does
not clear. Sign-ups, resets and re-sent links are rate-limited per address
and per recipient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import redis.asyncio as redis

from hospeda.gateway.config import GatewaySettings
from hospeda.gateway.problems import ApiError
from hospeda.gateway.security import digest

PREFIX = "hospeda:limit:"

# KEYS: per limit, its counter then its wait key. ARGV: window, max delay, then per
# limit its cap and mode ("hard": refuse at the cap; "delay": past the cap each
# attempt must wait a doubling delay). Nothing is counted when any limit refuses.
# Returns 0 (claimed) or the seconds to wait.
_CLAIM = """
local window = tonumber(ARGV[1])
local max_delay = tonumber(ARGV[2])
local n = #KEYS / 2
for i = 1, n do
  local counter, wait = KEYS[2 * i - 1], KEYS[2 * i]
  local cap, mode = tonumber(ARGV[1 + 2 * i]), ARGV[2 + 2 * i]
  if mode == "hard" then
    local count = tonumber(redis.call("GET", counter) or "0")
    if count >= cap then
      local ttl = redis.call("TTL", counter)
      if ttl > 0 then return ttl end
      return window
    end
  else
    local ttl = redis.call("TTL", wait)
    if ttl > 0 then return ttl end
  end
end
for i = 1, n do
  local counter, wait = KEYS[2 * i - 1], KEYS[2 * i]
  local cap, mode = tonumber(ARGV[1 + 2 * i]), ARGV[2 + 2 * i]
  local count = redis.call("INCR", counter)
  if count == 1 then redis.call("EXPIRE", counter, window) end
  if mode == "delay" and count >= cap then
    local delay = math.min(2 ^ (count - cap), max_delay)
    redis.call("SET", wait, "1", "EX", math.floor(delay))
  end
end
return 0
"""

# Give a claimed slot back (the attempt was right), never below zero.
_RELEASE = """
for _, key in ipairs(KEYS) do
  local count = tonumber(redis.call("GET", key) or "0")
  if count > 0 then redis.call("DECR", key) end
end
return 0
"""


def too_many(retry_after: int) -> ApiError:
    retry_after = max(1, retry_after)
    return ApiError(
        "too_many_attempts",
        429,
        headers={"Retry-After": str(retry_after)},
        extra={"retry_after": retry_after},
        retry_after=retry_after,
    )


@dataclass(frozen=True)
class Limit:
    key: str
    cap: int
    delay: bool = False  # a growing delay past the cap instead of a hard stop


@dataclass(frozen=True)
class Claim:
    """The slots one attempt took; hand it back to ``release``/``succeeded``."""

    limits: tuple[Limit, ...]


class Limiter:
    """Counters with a time window."""

    def __init__(self, client: redis.Redis, settings: GatewaySettings) -> None:
        self.redis = client
        self.window = settings.login_window_s
        self.per_account = settings.login_max_failures_per_account
        self.per_ip = settings.login_max_failures_per_ip
        self.email_requests = settings.email_requests_per_window
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)

    async def claim(self, limits: Sequence[Limit]) -> Claim:
        """Count one attempt against every limit, or refuse (429) without counting."""
        keys: list[str] = []
        args: list[str | int] = [self.window, self.window]
        for limit in limits:
            keys += [limit.key, limit.key + ":wait"]
            args += [limit.cap, "delay" if limit.delay else "hard"]
        wait = int(await self._claim(keys=keys, args=args))
        if wait:
            raise too_many(wait)
        return Claim(tuple(limits))

    async def release(self, claim: Claim) -> None:
        """The attempt was right: its slots are given back (other failures stay)."""
        await self._release(keys=[limit.key for limit in claim.limits])

    async def clear(self, claim: Claim) -> None:
        """A full sign-in: the account's counters and delays start again."""
        keys = [limit.key for limit in claim.limits if not limit.key.startswith(PREFIX + "ip:")]
        await self.redis.delete(*keys, *(key + ":wait" for key in keys))

    # --- which limits an attempt counts against ---------------------------------------------

    def _account(self, step: str, account: str, ip: str | None, device: str | None) -> list[Limit]:
        if device is not None:  # a known device of this account: its own counter only
            return [Limit(f"{PREFIX}{step}:device:{digest(device)}", self.per_account)]
        return [
            Limit(f"{PREFIX}{step}:pair:{account}:{ip or 'unknown'}", self.per_account),
            Limit(f"{PREFIX}{step}:account:{account}", self.per_account, delay=True),
            Limit(f"{PREFIX}ip:{ip or 'unknown'}", self.per_ip),
        ]

    def password(self, email: str, ip: str | None, device: str | None = None) -> list[Limit]:
        """A password typed to sign in (or to confirm who one is)."""
        return self._account("login", digest(email.lower()), ip, device)

    def second_factor(
        self, user_id: UUID, ip: str | None, device: str | None = None
    ) -> list[Limit]:
        """A TOTP or recovery code: counted apart from passwords, so a right password
        does not reset them."""
        return self._account("2fa", str(user_id), ip, device)

    def step_up(self, user_id: UUID) -> list[Limit]:
        """A signed-in person proving it again (re-authentication, turning 2FA off,
        new recovery codes, a password change): only they can spend it."""
        return [Limit(f"{PREFIX}step-up:{user_id}", self.per_account)]

    async def succeeded(self, *claims: Claim) -> None:
        """A full sign-in (or a password reset by e-mail)."""
        for claim in claims:
            await self.clear(claim)

    async def reset_account(self, email: str, user_id: UUID) -> None:
        """A password reset by e-mail proved the owner: the account starts afresh."""
        keys = [f"{PREFIX}login:account:{digest(email.lower())}", f"{PREFIX}2fa:account:{user_id}"]
        await self.redis.delete(*keys, *(key + ":wait" for key in keys))

    def address(self, ip: str | None) -> list[Limit]:
        """A sign-in that names no account (a passkey): the client address's cap only."""
        return [Limit(f"{PREFIX}ip:{ip or 'unknown'}", self.per_ip)]

    async def spend_email_request(self, ip: str | None, email: str | None = None) -> None:
        """Sign-ups, resets and re-sent links: a few per IP (and address) per window,
        so nobody floods an inbox or the platform's reputation."""
        limits = [Limit(PREFIX + "email:ip:" + (ip or "unknown"), self.email_requests)]
        if email:
            limits.append(Limit(PREFIX + "email:to:" + digest(email.lower()), self.email_requests))
        await self.claim(limits)

    async def spend(self, name: str, subject: str, cap: int, window: int | None = None) -> None:
        """A plain rate limit: ``cap`` calls of ``name`` per ``subject`` and window."""
        key = f"{PREFIX}{name}:{subject}"
        async with self.redis.pipeline(transaction=True) as pipe:
            # the window starts with the first call (SET NX; EXPIRE NX needs Redis 7,
            # and the embedded Redis of `make run` is 6.2)
            pipe.set(key, 0, ex=window or self.window, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
            _, count, ttl = await pipe.execute()
        if int(count) > cap:
            raise too_many(int(ttl) if int(ttl) > 0 else (window or self.window))
