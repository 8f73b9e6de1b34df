"""Who is calling: a session cookie or an API token, resolved into a ``Principal``
with the permissions it holds in its active company.

Roles are read from the database on every request, so a role change or a
removal takes effect at once; a session whose person's privileges changed
since it was issued is re-issued under a new id (rotation).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from fastapi import Request

from hospeda.contracts import Actor, ActorKind
from hospeda.contracts.identity import CompanyRole
from hospeda.gateway import repository
from hospeda.gateway.config import GatewaySettings
from hospeda.gateway.permissions import (
    Permission,
    StaffRole,
    company_permissions,
    platform_permissions,
    staff_company_permissions,
)
from hospeda.gateway.security import digest
from hospeda.gateway.sessions import Session, Sessions
from hospeda.runtime.clock import Clock
from hospeda.runtime.db import Database

TOKEN_PREFIX = "hsp_"  # noqa: S105 - how API tokens start, not a secret
TOKEN_TOUCH_EVERY = timedelta(minutes=1)


def session_cookie_name(settings: GatewaySettings) -> str:
    # __Host- cookies are bound to this exact host, Secure and Path=/ (no subdomain can set them)
    return "__Host-hospeda_session" if settings.cookie_secure else "hospeda_session"


def device_cookie_name(settings: GatewaySettings) -> str:
    """The signed known-device cookie (see ``limits``)."""
    return "__Host-hospeda_device" if settings.cookie_secure else "hospeda_device"


KNOWN_DEVICE_MAX_AGE_S = 180 * 86400


def csrf_cookie_name(settings: GatewaySettings) -> str:
    return "__Host-hospeda_csrf" if settings.cookie_secure else "hospeda_csrf"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller and what it may do."""

    kind: ActorKind  # user (a person) or api_token
    user_id: UUID
    email: str
    company_id: UUID | None
    role: str | None  # the company role, or `staff:<role>` while acting on a company
    permissions: frozenset[Permission]
    staff_role: StaffRole | None  # effective: None until 2FA is on when staff must use it
    staff_needs_2fa: bool
    acting: bool  # a staff member acting on a company
    session: Session | None = None
    token_id: UUID | None = None

    @property
    def manages_owners(self) -> bool:
        return self.role == CompanyRole.OWNER or self.role == f"staff:{StaffRole.SUPERADMIN}"

    def actor(self, *, as_staff: bool) -> Actor:
        if self.kind is ActorKind.API_TOKEN:
            return Actor(kind=ActorKind.API_TOKEN, id=str(self.token_id))
        if self.staff_role is not None and (self.acting or as_staff):
            return Actor(kind=ActorKind.STAFF, id=str(self.user_id))
        return Actor(kind=ActorKind.USER, id=str(self.user_id))


ROTATION_GRACE_S = 30


@dataclass(frozen=True)
class Resolution:
    principal: Principal | None
    presented: Session | None = None  # the session the cookie named
    new_session: Session | None = None  # set when it was rotated


class Authenticator:
    def __init__(
        self, *, db: Database, sessions: Sessions, settings: GatewaySettings, clock: Clock
    ) -> None:
        self.db = db
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.cookie = session_cookie_name(settings)

    async def resolve(
        self, request: Request, *, pending: bool = False, rotate: bool = True
    ) -> Resolution:
        """The caller of ``request``. ``rotate=False`` (a stream already under way,
        which cannot send a new cookie): a session due for a new id counts as ended."""
        authorization = request.headers.get("authorization")
        if authorization is not None:
            scheme, _, credential = authorization.partition(" ")
            if scheme.lower() != "bearer" or not credential.strip():
                return Resolution(None)
            return Resolution(await self.from_token(credential.strip()))
        session_id = request.cookies.get(self.cookie)
        if not session_id:
            return Resolution(None)
        session = await self.sessions.get(session_id, pending=pending)
        if session is None:
            return Resolution(None)
        return await self.from_session(session, rotate=rotate)

    async def from_session(self, session: Session, *, rotate: bool = True) -> Resolution:
        company = session.acting_company_id or session.company_id
        async with self.db.read() as conn:
            user = await repository.standing(conn, session.user_id, company)
        if user is None:  # the person is gone
            await self.sessions.delete(session)
            return Resolution(None)
        presented, rotated = session, None
        if user.session_stamp != session.stamp and not session.mfa_pending:
            # the person's privileges changed since this id was issued: issue a new one
            if not rotate:
                return Resolution(None)
            session = rotated = await self.sessions.rotate(
                session, stamp=user.session_stamp, grace_s=ROTATION_GRACE_S
            )
        staff_role, staff_needs_2fa = self._staff(user)
        if session.acting_company_id is not None and staff_role is None:
            # no longer effective staff (removed, or 2FA off): acting ends, and the role
            # read for the acting company must not be applied to their own one
            if not rotate:
                return Resolution(None)
            async with self.db.read() as conn:
                user = await repository.standing(conn, session.user_id, session.company_id)
            if user is None:
                await self.sessions.delete(session)
                return Resolution(None)
            session = rotated = await self.sessions.rotate(
                session, acting_company_id=None, grace_s=ROTATION_GRACE_S
            )
            staff_role, staff_needs_2fa = self._staff(user)
        company_id: UUID | None
        if session.acting_company_id is not None and staff_role is not None:
            company_id = session.acting_company_id
            role: str | None = f"staff:{staff_role}"
            granted = staff_company_permissions(staff_role)
        elif user.role is not None:
            company_id, role = session.company_id, user.role
            granted = company_permissions(CompanyRole(user.role))
        else:
            company_id, role, granted = None, None, frozenset()
        if staff_role is not None:
            granted |= platform_permissions(staff_role)
        principal = Principal(
            kind=ActorKind.USER,
            user_id=user.user_id,
            email=user.email,
            company_id=company_id,
            role=role,
            permissions=granted,
            staff_role=staff_role,
            staff_needs_2fa=staff_needs_2fa,
            acting=company_id is not None and company_id == session.acting_company_id,
            session=session,
        )
        return Resolution(principal, presented=presented, new_session=rotated)

    def _staff(self, user: repository.Standing) -> tuple[StaffRole | None, bool]:
        if user.staff_role is None:
            return None, False
        if self.settings.require_staff_2fa and not user.two_factor:
            return None, True
        return StaffRole(user.staff_role), False

    async def from_token(self, raw: str) -> Principal | None:
        if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
            return None
        now = self.clock.now()
        async with self.db.read() as conn:
            token = await repository.token_by_hash(conn, digest(raw))
            if token is None or token.revoked:
                return None
            if token.expires_at is not None and token.expires_at <= now:
                return None
            creator = await repository.standing(conn, token.created_by, token.company_id)
        if creator is None or creator.role is None:
            return None  # its creator left the company: the token dies with their rights
        if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_EVERY:
            async with self.db.transaction() as db:
                await repository.touch_token(db, token.id, now=now)
        granted = company_permissions(CompanyRole(creator.role))
        return Principal(
            kind=ActorKind.API_TOKEN,
            user_id=token.created_by,
            email=creator.email,
            company_id=token.company_id,
            role=None,
            permissions=frozenset(
                Permission(p) for p in token.permissions if p in Permission.__members__.values()
            )
            & granted,
            staff_role=None,
            staff_needs_2fa=False,
            acting=False,
            token_id=token.id,
        )
