"""Sessions in Redis.

The browser holds only a random session id in an HttpOnly cookie; Redis
holds the session under the id's SHA-256 (a Redis dump reveals no usable
id) with an idle timeout, and each person's set of sessions, so "log out
everywhere" ends them all. A session id is never reused: signing in,
finishing 2FA, switching company, acting on a company and any change of the
person's privileges issue a new id and delete the old one.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from uuid import UUID

import redis.asyncio as redis

from hospeda.gateway.config import GatewaySettings
from hospeda.gateway.security import digest, new_secret

PREFIX = "hospeda:session:"
PENDING_PREFIX = "hospeda:session-mfa:"  # password given, 2FA code not yet
USER_PREFIX = "hospeda:user-sessions:"


@dataclass(frozen=True)
class Session:
    """What the server knows about a signed-in browser."""

    id: str = field(repr=False)  # the cookie value; never stored, never logged
    user_id: UUID
    csrf: str = field(repr=False)
    stamp: int
    company_id: UUID | None = None
    acting_company_id: UUID | None = None
    mfa_pending: bool = False
    created_at: float = 0.0
    authenticated_at: float = 0.0  # the last time the person proved it (sign-in, re-auth)
    retire_at: float | None = None  # a replaced id, kept briefly for requests already in flight

    def _record(self) -> str:
        data = asdict(self)
        del data["id"]
        for key in ("user_id", "company_id", "acting_company_id"):
            data[key] = str(data[key]) if data[key] is not None else None
        return json.dumps(data)

    @classmethod
    def _from_record(cls, session_id: str, raw: bytes | str) -> Session:
        data: dict[str, Any] = json.loads(raw)
        for key in ("user_id", "company_id", "acting_company_id"):
            data[key] = UUID(data[key]) if data.get(key) else None
        return cls(id=session_id, **data)


class Sessions:
    """The session store."""

    def __init__(self, client: redis.Redis, settings: GatewaySettings) -> None:
        self.redis = client
        self.idle = settings.session_idle_s
        self.max_age = settings.session_max_s
        self.mfa_ttl = settings.mfa_pending_s
        self.reauth_window = settings.reauth_window_s

    async def create(
        self,
        *,
        user_id: UUID,
        stamp: int,
        company_id: UUID | None,
        mfa_pending: bool = False,
    ) -> Session:
        session = Session(
            id=new_secret(),
            user_id=user_id,
            csrf=new_secret(nbytes=24),
            stamp=stamp,
            company_id=company_id,
            mfa_pending=mfa_pending,
            created_at=time.time(),
            authenticated_at=0.0 if mfa_pending else time.time(),
        )
        await self._save(session)
        return session

    async def _save(self, session: Session, ttl: int | None = None) -> None:
        key = digest(session.id)
        prefix, idle = (
            (PENDING_PREFIX, self.mfa_ttl) if session.mfa_pending else (PREFIX, self.idle)
        )
        ttl = ttl or idle
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(prefix + key, session._record(), ex=ttl)
            pipe.sadd(USER_PREFIX + str(session.user_id), key)
            pipe.expire(USER_PREFIX + str(session.user_id), self.max_age)
            await pipe.execute()

    async def get(self, session_id: str, *, pending: bool = False) -> Session | None:
        """The live session with this id (its idle timer restarts), or None.
        ``pending``: the half-open session waiting for a 2FA code instead."""
        if not session_id or len(session_id) > 100:
            return None
        if pending:
            raw = await self.redis.get(PENDING_PREFIX + digest(session_id))
        else:
            raw = await self.redis.getex(PREFIX + digest(session_id), ex=self.idle)
        if raw is None:
            return None
        session = Session._from_record(session_id, raw)
        now = time.time()
        if now - session.created_at > self.max_age or (session.retire_at or now) < now:
            await self.delete(session)
            return None
        if session.retire_at is not None:  # the read above restarted its timer; undo that
            await self.redis.expireat(PREFIX + digest(session_id), int(session.retire_at) + 1)
        return session

    async def rotate(self, session: Session, *, grace_s: int = 0, **changes: Any) -> Session:
        """The same sign-in under a new id and CSRF token. The old id stops
        working at once, or after ``grace_s`` seconds when the rotation was not
        the browser's own doing (requests it already sent still carry the old id)."""
        renewed = replace(
            session, id=new_secret(), csrf=new_secret(nbytes=24), retire_at=None, **changes
        )
        await self._save(renewed)
        if grace_s and not session.mfa_pending:
            retiring = replace(session, retire_at=time.time() + grace_s, **changes)
            await self._save(retiring, ttl=grace_s)
        else:
            await self.delete(session)
        return renewed

    async def mark_reauthenticated(self, session: Session) -> Session:
        """The person just proved it again (password, TOTP or passkey): sensitive
        changes are allowed for ``GATEWAY_REAUTH_WINDOW_S``. The same id goes on."""
        marked = replace(session, authenticated_at=time.time())
        await self._save(marked)
        return marked

    def recently_authenticated(self, session: Session) -> bool:
        return time.time() - session.authenticated_at <= self.reauth_window

    async def delete(self, session: Session) -> None:
        key = digest(session.id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(PREFIX + key, PENDING_PREFIX + key)
            pipe.srem(USER_PREFIX + str(session.user_id), key)
            await pipe.execute()

    async def delete_all(self, user_id: UUID, *, keep: Session | None = None) -> int:
        """End every session of a person (but ``keep``); how many there were."""
        index = USER_PREFIX + str(user_id)
        keys = {k.decode() if isinstance(k, bytes) else k for k in await self.redis.smembers(index)}
        if keep is not None:
            keys.discard(digest(keep.id))
        if not keys:
            return 0
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*(PREFIX + k for k in keys), *(PENDING_PREFIX + k for k in keys))
            pipe.srem(index, *keys)
            results = await pipe.execute()
        return int(results[0])
