"""Signing in and out, and two-factor authentication (TOTP, recovery codes)."""

from __future__ import annotations

from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts import Actor, ActorKind
from hospeda.gateway import repository
from hospeda.gateway.domain import Refused, normalise_email
from hospeda.gateway.limits import Claim
from hospeda.gateway.models import User
from hospeda.gateway.outgoing import Origin, audit
from hospeda.gateway.security import (
    KnownDevices,
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
        self.devices = KnownDevices(parts.settings)

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
        self,
        origin: Origin,
        *,
        email: str,
        password: str,
        previous: str | None = None,
        device: str | None = None,
    ) -> Session:
        """Check the password; the session is half-open (``mfa_pending``) when 2FA is on.
        ``previous``: the session id this browser had, which ends (no fixation);
        ``device``: the browser's known-device cookie, if any (see ``limits``)."""
        email = normalise_email(email)
        async with self.db.transaction() as db:
            user = await repository.get_user_by_email(db, email)
        known = self.devices.device(device, user.id) if user else None
        claim = await self.limiter.claim(self.limiter.password(email, origin.ip, known))
        if not await self.passwords.verify(user.password_hash if user else None, password):
            async with self.db.transaction() as db:
                audit(db, origin, "user.login_failed", "user", user.id if user else None)
            raise Refused("invalid_credentials")
        assert user is not None
        if user.email_verified_at is None:
            await self.limiter.release(claim)
            async with self.db.transaction() as db:
                audit(db, origin, "user.login_unverified", "user", user.id)
            raise Refused("email_not_verified")
        if user.totp_enabled_at is None:
            await self.limiter.succeeded(claim)
        else:  # the right password gives its own slot back; earlier failures wait for the code
            await self.limiter.release(claim)
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
        return await self.open_session(
            user=user, company_id=company_id, mfa_pending=two_factor, previous=previous
        )

    async def login_second_factor(
        self, origin: Origin, pending: Session, code: str, device: str | None = None
    ) -> Session:
        """Finish signing in with a TOTP or recovery code: a full session, new id.
        Wrong codes count on their own (per account, address, known device) and only
        a full sign-in clears them."""
        async with self.db.transaction() as db:
            user = await locked_user(db, pending.user_id)
        known = self.devices.device(device, user.id)
        claim = await self.limiter.claim(self.limiter.second_factor(user.id, origin.ip, known))
        async with self.db.transaction() as db:
            user = await locked_user(db, pending.user_id)
            accepted = await self._second_factor(db, user, code)
            stamp = user.session_stamp
            if accepted:
                audit(db, origin, "user.login", "user", user.id, company_id=pending.company_id)
        if not accepted:
            async with self.db.transaction() as db:
                audit(db, origin, "user.login_2fa_failed", "user", user.id)
            raise Refused("invalid_code")
        passwords = Claim(tuple(self.limiter.password(user.email, origin.ip, known)))
        await self.limiter.succeeded(claim, passwords)
        now = self.clock.now().timestamp()
        return await self.sessions.rotate(
            pending, mfa_pending=False, stamp=stamp, created_at=now, authenticated_at=now
        )

    def known_device(self, user_id: UUID, current: str | None) -> str:
        """The known-device cookie to send after a full sign-in (the same device id
        when the browser already had one for this person)."""
        return self.devices.issue(user_id, self.devices.device(current, user_id))

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
        """Turn 2FA off: the password and a code, both counted against the person's
        step-up limit; a wrong one is audited."""
        async with self.db.transaction() as db:
            user = await locked_user(db, session.user_id)
        if user.totp_enabled_at is None:
            raise Refused("totp_not_enabled")
        claim = await self.limiter.claim(self.limiter.step_up(user.id))
        if not await self.passwords.verify(user.password_hash, password):
            await self._step_up_failed(origin, user.id, "user.totp_disable_failed", "password")
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
            await self._step_up_failed(origin, user.id, "user.totp_disable_failed", "code")
            raise Refused("invalid_code")
        await self.limiter.release(claim)
        return await self.sessions.rotate(
            session, stamp=stamp, authenticated_at=self.clock.now().timestamp()
        )

    async def regenerate_recovery_codes(
        self, origin: Origin, user_id: UUID, code: str
    ) -> list[str]:
        claim = await self.limiter.claim(self.limiter.step_up(user_id))
        async with self.db.transaction() as db:
            user = await locked_user(db, user_id)
            if user.totp_enabled_at is None or user.totp_secret is None:
                raise Refused("totp_not_enabled")
            match = self._match_totp(user, code)
            if match is not None:
                user.totp_last_step = match.step
                codes = await self._new_recovery_codes(db, user)
                audit(db, origin, "user.recovery_codes_regenerated", "user", user.id)
        if match is None:
            await self._step_up_failed(origin, user_id, "user.recovery_codes_failed", "code")
            raise Refused("invalid_code")
        await self.limiter.release(claim)
        return codes

    async def reauthenticate(
        self, origin: Origin, session: Session, *, password: str | None, code: str | None
    ) -> Session:
        """Prove it is still the person (password or 2FA code) before a sensitive change:
        the session is marked as recently authenticated (``Sessions.mark_reauthenticated``)."""
        claim = await self.limiter.claim(self.limiter.step_up(session.user_id))
        async with self.db.transaction() as db:
            user = await locked_user(db, session.user_id)
            if code is not None:
                accepted = await self._second_factor(db, user, code)
            else:
                accepted = password is not None and await self.passwords.verify(
                    user.password_hash, password
                )
            if accepted:
                audit(db, origin, "user.reauthenticated", "user", user.id)
        if not accepted:
            await self._step_up_failed(origin, user.id, "user.reauthentication_failed", "")
            raise Refused("invalid_code" if code is not None else "invalid_credentials")
        await self.limiter.release(claim)
        return await self.sessions.mark_reauthenticated(session)

    async def _step_up_failed(self, origin: Origin, user_id: UUID, action: str, what: str) -> None:
        async with self.db.transaction() as db:
            audit(db, origin, action, "user", user_id, after={"wrong": what} if what else None)
