"""All of the gateway's SQL. Functions take the open session; nothing commits here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.gateway.models import (
    ApiToken,
    Company,
    EmailToken,
    Invitation,
    Membership,
    Passkey,
    RecoveryCode,
    User,
)

# --- people and companies -------------------------------------------------------------


async def get_user(session: AsyncSession, user_id: UUID, *, lock: bool = False) -> User | None:
    return await session.get(User, user_id, with_for_update=lock)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(sa.select(User).where(col(User.email) == email.lower()))
    return result.scalar_one_or_none()


async def get_company(session: AsyncSession, company_id: UUID) -> Company | None:
    return await session.get(Company, company_id)


# The hot reads' statements are built once, with bound parameters: building a
# statement costs more CPU than running it.
_COMPANY_PROFILE = sa.select(col(Company.id), col(Company.name), col(Company.locale)).where(
    col(Company.id) == sa.bindparam("company_id")
)


async def company_profile(conn: AsyncConnection, company_id: UUID) -> sa.Row[Any] | None:
    """id, name and locale of a company: a read outside any unit of work."""
    return (await conn.execute(_COMPANY_PROFILE, {"company_id": company_id})).first()


@dataclass(frozen=True)
class Standing:
    """What authorising a request needs about a person and their role in one
    company (``role`` None: not a member)."""

    user_id: UUID
    email: str
    staff_role: str | None
    two_factor: bool
    session_stamp: int
    role: str | None


# built once: this runs on every request, and SQLAlchemy reuses the compiled form
_STANDING_COLUMNS = (
    col(User.id),
    col(User.email),
    col(User.staff_role),
    col(User.totp_enabled_at),
    col(User.session_stamp),
)
_STANDING_IN_COMPANY = sa.select(
    *_STANDING_COLUMNS,
    sa.select(col(Membership.role))
    .where(
        col(Membership.user_id) == sa.bindparam("user_id"),
        col(Membership.company_id) == sa.bindparam("company_id"),
    )
    .scalar_subquery()
    .label("role"),
).where(col(User.id) == sa.bindparam("user_id"))
_STANDING_ALONE = sa.select(*_STANDING_COLUMNS, sa.null().label("role")).where(
    col(User.id) == sa.bindparam("user_id")
)


async def standing(
    conn: AsyncConnection, user_id: UUID, company_id: UUID | None
) -> Standing | None:
    """One query on a bare connection: this runs on every request."""
    if company_id is None:
        result = await conn.execute(_STANDING_ALONE, {"user_id": user_id})
    else:
        result = await conn.execute(
            _STANDING_IN_COMPANY, {"user_id": user_id, "company_id": company_id}
        )
    row = result.first()
    if row is None:
        return None
    return Standing(row[0], row[1], row[2], row[3] is not None, row[4], row[5])


@dataclass(frozen=True)
class CompanyOfUser:
    company_id: UUID
    name: str
    role: str


_COMPANIES_OF = (
    sa.select(col(Company.id), col(Company.name), col(Membership.role))
    .join(Membership, col(Membership.company_id) == col(Company.id))
    .where(col(Membership.user_id) == sa.bindparam("user_id"))
    .order_by(col(Company.name), col(Company.id))
)


async def companies_of(session: AsyncSession, user_id: UUID) -> list[CompanyOfUser]:
    rows = await session.execute(_COMPANIES_OF, {"user_id": user_id})
    return [CompanyOfUser(*row) for row in rows.all()]


async def get_membership(
    session: AsyncSession, user_id: UUID, company_id: UUID, *, lock: bool = False
) -> Membership | None:
    return await session.get(Membership, (user_id, company_id), with_for_update=lock)


async def count_owners(session: AsyncSession, company_id: UUID) -> int:
    result = await session.execute(
        sa.select(sa.func.count())
        .select_from(Membership)
        .where(col(Membership.company_id) == company_id, col(Membership.role) == "owner")
    )
    return int(result.scalar_one())


async def lock_company(session: AsyncSession, company_id: UUID) -> Company | None:
    """Serialise changes to one company's members (the last-owner rule)."""
    return await session.get(Company, company_id, with_for_update=True)


_MEMBERS = (
    sa.select(User, Membership)
    .join(Membership, col(Membership.user_id) == col(User.id))
    .where(col(Membership.company_id) == sa.bindparam("company_id"))
    .order_by(col(User.id))
    .limit(sa.bindparam("limit"))
)
_MEMBERS_AFTER = _MEMBERS.where(col(User.id) > sa.bindparam("after"))


async def members(
    session: AsyncSession, company_id: UUID, *, after: UUID | None, limit: int
) -> Sequence[tuple[User, Membership]]:
    params = {"company_id": company_id, "limit": limit, "after": after}
    rows = await session.execute(_MEMBERS if after is None else _MEMBERS_AFTER, params)
    return [(row[0], row[1]) for row in rows.all()]


async def delete_membership(session: AsyncSession, membership: Membership) -> None:
    await session.delete(membership)


async def bump_stamp(session: AsyncSession, user_id: UUID) -> None:
    """Mark a person's privileges as changed: their sessions rotate on next use."""
    await session.execute(
        sa.update(User)
        .where(col(User.id) == user_id)
        .values(session_stamp=col(User.session_stamp) + 1)
    )


async def search_companies(
    session: AsyncSession, *, query: str | None, after: UUID | None, limit: int
) -> Sequence[Company]:
    statement = sa.select(Company).order_by(col(Company.id)).limit(limit)
    if query:
        escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(
            sa.func.lower(col(Company.name)).like(f"%{escaped}%", escape="\\")
        )
    if after is not None:
        statement = statement.where(col(Company.id) > after)
    return (await session.execute(statement)).scalars().all()


# --- single-use links -------------------------------------------------------------------


async def consume_email_token(
    session: AsyncSession, token_hash: str, *, purpose: str, now: datetime
) -> UUID | None:
    """Use a link once: the person it belongs to, or None if unknown, used or expired."""
    result = await session.execute(
        sa.update(EmailToken)
        .where(
            col(EmailToken.token_hash) == token_hash,
            col(EmailToken.purpose) == purpose,
            col(EmailToken.used_at).is_(None),
            col(EmailToken.expires_at) > now,
        )
        .values(used_at=now)
        .returning(col(EmailToken.user_id))
    )
    return result.scalar_one_or_none()


async def expire_email_tokens(
    session: AsyncSession, user_id: UUID, *, purpose: str, now: datetime
) -> None:
    """Older links of a kind stop working once a new one is sent or one is used."""
    await session.execute(
        sa.update(EmailToken)
        .where(
            col(EmailToken.user_id) == user_id,
            col(EmailToken.purpose) == purpose,
            col(EmailToken.used_at).is_(None),
        )
        .values(used_at=now)
    )


# --- invitations ------------------------------------------------------------------------


async def get_invitation(
    session: AsyncSession, invitation_id: UUID, company_id: UUID
) -> Invitation | None:
    invitation = await session.get(Invitation, invitation_id)
    return invitation if invitation and invitation.company_id == company_id else None


async def invitation_by_token(session: AsyncSession, token_hash: str) -> Invitation | None:
    result = await session.execute(
        sa.select(Invitation).where(col(Invitation.token_hash) == token_hash).with_for_update()
    )
    return result.scalar_one_or_none()


_PENDING_INVITATIONS = (
    sa.select(Invitation)
    .where(
        col(Invitation.company_id) == sa.bindparam("company_id"),
        col(Invitation.accepted_at).is_(None),
        col(Invitation.revoked_at).is_(None),
        col(Invitation.expires_at) > sa.bindparam("now"),
    )
    .order_by(col(Invitation.id))
    .limit(sa.bindparam("limit"))
)
_PENDING_INVITATIONS_AFTER = _PENDING_INVITATIONS.where(col(Invitation.id) > sa.bindparam("after"))


async def pending_invitations(
    session: AsyncSession, company_id: UUID, *, now: datetime, after: UUID | None, limit: int
) -> Sequence[Invitation]:
    statement = _PENDING_INVITATIONS if after is None else _PENDING_INVITATIONS_AFTER
    params = {"company_id": company_id, "now": now, "limit": limit, "after": after}
    return (await session.execute(statement, params)).scalars().all()


# --- 2FA recovery codes -----------------------------------------------------------------


async def replace_recovery_codes(session: AsyncSession, user_id: UUID, hashes: list[str]) -> None:
    await session.execute(sa.delete(RecoveryCode).where(col(RecoveryCode.user_id) == user_id))
    session.add_all(RecoveryCode(user_id=user_id, code_hash=h) for h in hashes)


async def consume_recovery_code(
    session: AsyncSession, user_id: UUID, code_hash: str, *, now: datetime
) -> bool:
    result = await session.execute(
        sa.update(RecoveryCode)
        .where(
            col(RecoveryCode.user_id) == user_id,
            col(RecoveryCode.code_hash) == code_hash,
            col(RecoveryCode.used_at).is_(None),
        )
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- API tokens -------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenFacts:
    id: UUID
    company_id: UUID
    permissions: list[str]
    created_by: UUID
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked: bool


async def token_by_hash(conn: AsyncConnection, token_hash: str) -> TokenFacts | None:
    """One query on a bare connection: this runs on every token-authenticated request."""
    row = (
        await conn.execute(
            sa.select(
                col(ApiToken.id),
                col(ApiToken.company_id),
                col(ApiToken.permissions),
                col(ApiToken.created_by),
                col(ApiToken.expires_at),
                col(ApiToken.last_used_at),
                col(ApiToken.revoked_at),
            ).where(col(ApiToken.token_hash) == token_hash)
        )
    ).first()
    if row is None:
        return None
    return TokenFacts(row[0], row[1], list(row[2]), row[3], row[4], row[5], row[6] is not None)


async def get_token(session: AsyncSession, token_id: UUID, company_id: UUID) -> ApiToken | None:
    token = await session.get(ApiToken, token_id)
    return token if token and token.company_id == company_id else None


async def tokens(
    session: AsyncSession, company_id: UUID, *, after: UUID | None, limit: int
) -> Sequence[ApiToken]:
    statement = (
        sa.select(ApiToken)
        .where(col(ApiToken.company_id) == company_id)
        .order_by(col(ApiToken.id))
        .limit(limit)
    )
    if after is not None:
        statement = statement.where(col(ApiToken.id) > after)
    return (await session.execute(statement)).scalars().all()


async def touch_token(session: AsyncSession, token_id: UUID, *, now: datetime) -> None:
    await session.execute(
        sa.update(ApiToken).where(col(ApiToken.id) == token_id).values(last_used_at=now)
    )


# --- passkeys ---------------------------------------------------------------------------


async def passkeys_of(session: AsyncSession, user_id: UUID) -> Sequence[Passkey]:
    statement = (
        sa.select(Passkey).where(col(Passkey.user_id) == user_id).order_by(col(Passkey.created_at))
    )
    return (await session.execute(statement)).scalars().all()


async def get_passkey(
    session: AsyncSession, passkey_id: UUID, user_id: UUID, *, lock: bool = False
) -> Passkey | None:
    """The person's own passkey; another person's id is the same as a missing one."""
    passkey = await session.get(Passkey, passkey_id, with_for_update=lock)
    return passkey if passkey and passkey.user_id == user_id else None


async def passkey_by_credential(
    session: AsyncSession, credential_id: str, *, lock: bool = False
) -> Passkey | None:
    statement = sa.select(Passkey).where(col(Passkey.credential_id) == credential_id)
    if lock:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()
