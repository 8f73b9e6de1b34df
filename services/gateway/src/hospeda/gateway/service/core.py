"""What the identity use cases share: what they are built from, the person a use
case acts on, and the links e-mails carry. Nothing here opens a transaction;
the use cases do."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.gateway import repository
from hospeda.gateway.config import GatewaySettings
from hospeda.gateway.domain import Refused
from hospeda.gateway.limits import Limiter
from hospeda.gateway.models import User
from hospeda.gateway.security import Passwords
from hospeda.gateway.sessions import Session, Sessions
from hospeda.runtime.clock import Clock
from hospeda.runtime.db import Database


@dataclass(frozen=True)
class IdentityParts:
    """What every area of the identity use cases is built from."""

    db: Database
    settings: GatewaySettings
    passwords: Passwords
    sessions: Sessions
    limiter: Limiter
    clock: Clock


class IdentityCore:
    """The base of each area: its collaborators in sight, one transaction per use
    case, sessions changed only after it commits."""

    def __init__(self, parts: IdentityParts) -> None:
        self.db = parts.db
        self.settings = parts.settings
        self.passwords = parts.passwords
        self.sessions = parts.sessions
        self.limiter = parts.limiter
        self.clock = parts.clock

    async def open_session(
        self, *, user: User, company_id: UUID | None, mfa_pending: bool, previous: str | None
    ) -> Session:
        """A new session for a sign-in that just succeeded (password or passkey);
        ``previous``, the session id this browser had, ends (no fixation)."""
        session = await self.sessions.create(
            user_id=user.id,
            stamp=user.session_stamp,
            company_id=company_id,
            mfa_pending=mfa_pending,
        )
        if previous:
            for pending in (False, True):
                old = await self.sessions.get(previous, pending=pending)
                if old is not None:
                    await self.sessions.delete(old)
        return session


async def locked_user(db: AsyncSession, user_id: UUID) -> User:
    """The person, locked for the rest of the transaction; ``not_found`` if gone."""
    user = await repository.get_user(db, user_id, lock=True)
    if user is None:
        raise Refused("not_found")
    return user


def public_link(settings: GatewaySettings, path: str, token: str | None = None) -> str:
    """An address of the web app, with a single-use ``token`` when one is given."""
    page = f"{settings.public_url.rstrip('/')}{path}"
    return page if token is None else f"{page}?token={token}"
