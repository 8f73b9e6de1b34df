"""Signing in and out, and two-factor authentication (TOTP, recovery codes)."""

from __future__ import annotations

from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts import Actor, ActorKind
from hospeda.gateway import repository
from hospeda.gateway.domain import Refused, normalise_email
from hospeda.gateway.models import User
from hospeda.gateway.outgoing import Origin, audit
from hospeda.gateway.security import (
    TotpMatch,
    digest,
    match_totp,
    new_recovery_codes,
    new_totp_secret,
    normalise_recovery_code,
    totp_uri,
)
from hospeda.gateway.service.core import IdentityCore, IdentityParts, locked_user
from hospeda.gateway.sessions import Session
from hospeda.runtime.sealing import SecretBox


class SignIn(IdentityCore):
    """Signing in and out; two-factor authentication."""

    def __init__(self, parts: IdentityParts) -> None:
        super().__init__(parts)
        # TOTP secrets are encrypted at rest: a database dump alone cannot mint codes
        self.totp_box = SecretBox(parts.settings.totp_key, setting="GATEWAY_TOTP_KEY")

    # --- second factor ----------------------------------------------------------------------

    def _match_totp(self, user: User, code: str) -> TotpMatch | None:
        if user.totp_secret is None:
            return None
        secret = self.totp_box.open(user.totp_secret)
        return match_totp(secret, code, now=self.clock.now(), after_step=user.totp_last_step)

    async def _second_factor(self, db: AsyncSession, user: User, code: str) -> bool:
        """A TOTP code (once per time step) or an unused recovery code."""
        if user.totp_secret is None:
            return False
        match = self._match_totp(user, code)
        if match is not None:
            user.totp_last_step = match.step
            return True
        return await repository.consume_recovery_code(
            db, user.id, digest(normalise_recovery_code(code)), now=self.clock.now()
        )

    async def _new_recovery_codes(self, db: AsyncSession, user: User) -> list[str]:
        codes = new_recovery_codes()
        await repository.replace_recovery_codes(db, user.id, [digest(c) for c in codes])
        return codes

    # --- signing in and out -----------------------------------------------------------------

    async def login(
        self, origin: Origin, *, email: str, password: str, previous: str | None = None
    ) -> Session:
        """Check the password; the session is half-open (``mfa_pending``) when 2FA is on.
        ``previous``: the session id this browser had, which ends (no fixation)."""
        email = normalise_email(email)
        await self.limiter.check_login(email, origin.ip)
        async with self.db.transaction() as db:
            user = await repository.get_user_by_email(db, email)
        if not await self.passwords.verify(user.password_hash if user else None, password):
            await self.limiter.login_failed(email, origin.ip)
            async with self.db.transaction() as db:
                audit(db, origin, "user.login_failed", "user", user.id if user else None)
            raise Refused("invalid_credentials")
        assert user is not None
        if user.email_verified_at is None:
            async with self.db.transaction() as db:
                audit(db, origin, "user.login_unverified", "user", user.id)
            raise Refused("email_not_verified")
        await self.limiter.login_succeeded(email)
        origin.as_actor(Actor(kind=ActorKind.USER, id=str(user.id)))
        async with self.db.transaction() as db:
            companies = await repository.companies_of(db, user.id)
            company_id = companies[0].company_id if companies else None
            if self.passwords.needs_rehash(user.password_hash):
                fresh = await locked_user(db, user.id)
                fresh.password_hash = await self.passwords.hash(password)
            two_factor = user.totp_enabled_at is not None
            audit(
                db,
                origin,
                "user.login_password" if two_factor else "user.login",
                "user",
                user.id,
                company_id=company_id,
            )
        session = await self.sessions.create(
            user_id=user.id,
            stamp=user.session_stamp,
            company_id=company_id,
            mfa_pending=two_factor,
        )
        if previous:
            for pending in (False, True):
                old = await self.sessions.get(previous, pending=pending)
                if old is not None:
                    await self.sessions.delete(old)
        return session

    async def login_second_factor(self, origin: Origin, pending: Session, code: str) -> Session:
        """Finish signing in with a TOTP or recovery code: a full session, new id."""
        async with self.db.transaction() as db:
            user = await locked_user(db, pending.user_id)
        await self.limiter.check_login(user.email, origin.ip)
        async with self.db.transaction() as db:
            user = await locked_user(db, pending.user_id)
            accepted = await self._second_factor(db, user, code)
            stamp = user.session_stamp
            if accepted:
                audit(db, origin, "user.login", "user", user.id, company_id=pending.company_id)
        if not accepted:
            await self.limiter.login_failed(user.email, origin.ip)
            async with self.db.transaction() as db:
                audit(db, origin, "user.login_2fa_failed", "user", user.id)
            raise Refused("invalid_code")
        await self.limiter.login_succeeded(user.email)
        return await self.sessions.rotate(
            pending, mfa_pending=False, stamp=stamp, created_at=self.clock.now().timestamp()
        )

    async def logout(self, origin: Origin, *sessions: Session | None) -> None:
        """End this browser's session (and the id it replaced moments ago, if any)."""
        ended = [s for s in sessions if s is not None]
        async with self.db.transaction() as db:
            audit(db, origin, "user.logout", "user", ended[0].user_id)
        for session in ended:
            await self.sessions.delete(session)

    async def logout_everywhere(self, origin: Origin, session: Session) -> int:
        async with self.db.transaction() as db:
            audit(db, origin, "user.logout_everywhere", "user", session.user_id)
        return await self.sessions.delete_all(session.user_id)

    # --- two-factor authentication --------------------------------------------------------

    async def start_totp(self, origin: Origin, user_id: UUID) -> tuple[str, str]:
        """A new TOTP secret to scan; 2FA turns on once a code from it is confirmed."""
        async with self.db.transaction() as db:
            user = await locked_user(db, user_id)
            if user.totp_enabled_at is not None:
                raise Refused("totp_already_enabled")
            secret = new_totp_secret()
            user.totp_secret = self.totp_box.seal(secret)
            audit(db, origin, "user.totp_setup_started", "user", user.id)
            return secret, totp_uri(secret, user.email)

    async def enable_totp(
        self, origin: Origin, session: Session, code: str
    ) -> tuple[Session, list[str]]:
        """Confirm the first code: 2FA is on; recovery codes are shown once."""
        async with self.db.transaction() as db:
            user = await locked_user(db, session.user_id)
            if user.totp_enabled_at is not None:
                raise Refused("totp_already_enabled")
            if user.totp_secret is None:
                raise Refused("totp_not_started")
            match = self._match_totp(user, code)
            if match is None:
                raise Refused("invalid_code")
            user.totp_last_step = match.step
            user.totp_enabled_at = self.clock.now()
            user.session_stamp += 1  # staff permissions may now apply: a privilege change
            stamp = user.session_stamp
            codes = await self._new_recovery_codes(db, user)
            audit(db, origin, "user.totp_enabled", "user", user.id)
        return await self.sessions.rotate(session, stamp=stamp), codes

    async def disable_totp(
        self, origin: Origin, session: Session, password: str, code: str
    ) -> Session:
        async with self.db.transaction() as db:
            user = await locked_user(db, session.user_id)
        if user.totp_enabled_at is None:
            raise Refused("totp_not_enabled")
        await self.limiter.check_login(user.email, origin.ip)
        if not await self.passwords.verify(user.password_hash, password):
            await self.limiter.login_failed(user.email, origin.ip)
            raise Refused("invalid_credentials")
        async with self.db.transaction() as db:
            user = await locked_user(db, session.user_id)
            accepted = await self._second_factor(db, user, code)
            if accepted:
                user.totp_secret = None
                user.totp_enabled_at = None
                user.session_stamp += 1
                await repository.replace_recovery_codes(db, user.id, [])
                audit(db, origin, "user.totp_disabled", "user", user.id)
            stamp = user.session_stamp
        if not accepted:
            await self.limiter.login_failed(user.email, origin.ip)
            raise Refused("invalid_code")
        return await self.sessions.rotate(session, stamp=stamp)

    async def regenerate_recovery_codes(
        self, origin: Origin, user_id: UUID, code: str
    ) -> list[str]:
        async with self.db.transaction() as db:
            user = await locked_user(db, user_id)
            if user.totp_enabled_at is None or user.totp_secret is None:
                raise Refused("totp_not_enabled")
            match = self._match_totp(user, code)
            if match is None:
                raise Refused("invalid_code")
            user.totp_last_step = match.step
            codes = await self._new_recovery_codes(db, user)
            audit(db, origin, "user.recovery_codes_regenerated", "user", user.id)
        return codes
