"""Identity use cases: sign-up, e-mail links, signing in, 2FA, companies,
members, invitations, API tokens and staff.

Each use case is one transaction; identity events, notification requests
and audit records go to the outbox inside it (``outgoing``). Sessions live
in Redis and change only after the transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts import Actor, ActorKind, new_id
from hospeda.contracts.identity import (
    CompanyRegistered,
    CompanyRole,
    CompanyUpdated,
    MembershipGranted,
    MembershipRevoked,
    MembershipRoleChanged,
    StaffRoleChanged,
    UserRegistered,
)
from hospeda.contracts.notify import Recipient
from hospeda.contracts.topics import IDENTITY_COMPANY, IDENTITY_USER
from hospeda.gateway import repository
from hospeda.gateway.auth import TOKEN_PREFIX, Principal
from hospeda.gateway.config import GatewaySettings
from hospeda.gateway.domain import (
    Refused,
    check_invitation_role,
    check_role_change,
    normalise_email,
    token_permissions,
)
from hospeda.gateway.limits import Limiter
from hospeda.gateway.models import ApiToken, Company, EmailToken, Invitation, Membership, User
from hospeda.gateway.outgoing import Origin, audit, notify, send
from hospeda.gateway.permissions import Permission, StaffRole
from hospeda.gateway.security import (
    Passwords,
    TotpMatch,
    digest,
    match_totp,
    new_recovery_codes,
    new_secret,
    new_totp_secret,
    normalise_recovery_code,
    totp_uri,
)
from hospeda.gateway.sessions import Session, Sessions
from hospeda.runtime.clock import Clock
from hospeda.runtime.db import Database
from hospeda.runtime.sealing import SecretBox

VERIFY_EMAIL = "verify-email"
PASSWORD_RESET = "password-reset"  # noqa: S105 - a template name
SIGNUP_EXISTING_ACCOUNT = "signup-existing-account"


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


class IdentityService:
    def __init__(
        self,
        *,
        db: Database,
        settings: GatewaySettings,
        passwords: Passwords,
        sessions: Sessions,
        limiter: Limiter,
        clock: Clock,
    ) -> None:
        self.db = db
        self.settings = settings
        self.passwords = passwords
        self.sessions = sessions
        self.limiter = limiter
        self.clock = clock
        # TOTP secrets are encrypted at rest: a database dump alone cannot mint codes
        self.totp_box = SecretBox(settings.totp_key, setting="GATEWAY_TOTP_KEY")

    # --- helpers ------------------------------------------------------------------------

    def _link(self, path: str, token: str | None = None) -> str:
        page = f"{self.settings.public_url.rstrip('/')}{path}"
        return page if token is None else f"{page}?token={token}"

    async def _issue_link(
        self, db: AsyncSession, user: User, purpose: str, ttl_s: int
    ) -> tuple[str, datetime]:
        """A new single-use link for ``user``; earlier ones of the same kind stop working."""
        now = self.clock.now()
        await repository.expire_email_tokens(db, user.id, purpose=purpose, now=now)
        token = new_secret()
        expires = now + timedelta(seconds=ttl_s)
        db.add(
            EmailToken(
                token_hash=digest(token),
                purpose=purpose,
                user_id=user.id,
                created_at=now,
                expires_at=expires,
            )
        )
        return token, expires

    async def _email_link(
        self, db: AsyncSession, origin: Origin, user: User, purpose: str, ttl_s: int, page: str
    ) -> None:
        """E-mail ``user`` a single-use link to ``page`` (the template is named after ``purpose``)."""
        token, expires = await self._issue_link(db, user, purpose, ttl_s)
        notify(
            db,
            origin,
            template=purpose,
            recipient=Recipient(user_id=user.id, email=user.email, name=user.name),
            locale=user.locale,
            data={
                "name": user.name,
                "link": self._link(page, token),
                "expires_at": expires.isoformat(),
            },
        )

    async def _send_verification(self, db: AsyncSession, origin: Origin, user: User) -> None:
        await self._email_link(
            db,
            origin,
            user,
            VERIFY_EMAIL,
            self.settings.verify_email_ttl_s,
            "/conta/verificar-email",
        )

    async def _user(self, db: AsyncSession, user_id: UUID) -> User:
        user = await repository.get_user(db, user_id, lock=True)
        if user is None:
            raise Refused("not_found")
        return user

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

    # --- sign-up and e-mail verification ----------------------------------------------------

    async def sign_up(
        self,
        origin: Origin,
        *,
        company_name: str,
        name: str,
        email: str,
        password: str,
        locale: str,
    ) -> None:
        """A new company and its owner; the owner confirms the e-mail before signing in.

        An address that already has an account gets an e-mail saying so (with the
        sign-in and reset links) instead: the answer is the same either way, so
        sign-up cannot be used to find out who has an account here."""
        email = normalise_email(email)
        await self.limiter.spend_email_request(origin.ip, email)
        now = self.clock.now()
        # hashed in both cases: the time taken does not tell them apart either
        password_hash = await self.passwords.hash(password)
        user = User(
            id=new_id(),
            email=email,
            name=name,
            locale=locale,
            password_hash=password_hash,
            created_at=now,
        )
        company = Company(id=new_id(), name=company_name, locale=locale, created_at=now)
        try:
            async with self.db.transaction() as db:
                existing = await repository.get_user_by_email(db, email)
                if existing is not None:
                    self._tell_existing_account(db, origin, existing)
                    return
                origin.as_actor(Actor(kind=ActorKind.USER, id=str(user.id)))
                origin.company_id = company.id
                db.add(user)
                db.add(company)
                await db.flush()
                db.add(
                    Membership(user_id=user.id, company_id=company.id, role="owner", created_at=now)
                )
                send(
                    db,
                    origin,
                    CompanyRegistered(
                        company_id=company.id,
                        name=company.name,
                        owner_user_id=user.id,
                        locale=locale,
                    ),
                    topic=IDENTITY_COMPANY,
                    key=company.id,
                )
                send(
                    db,
                    origin,
                    UserRegistered(user_id=user.id, email=email, name=name, locale=locale),
                    topic=IDENTITY_USER,
                    key=user.id,
                )
                send(
                    db,
                    origin,
                    MembershipGranted(
                        user_id=user.id, company_id=company.id, role=CompanyRole.OWNER
                    ),
                    topic=IDENTITY_USER,
                    key=user.id,
                )
                await self._send_verification(db, origin, user)
                audit(
                    db,
                    origin,
                    "company.signed_up",
                    "company",
                    company.id,
                    after={"name": company.name, "owner_user_id": str(user.id), "email": email},
                )
        except sa.exc.IntegrityError:  # the same e-mail signed up at the same moment: one wins
            return

    def _tell_existing_account(self, db: AsyncSession, origin: Origin, user: User) -> None:
        origin.company_id = None
        notify(
            db,
            origin,
            template=SIGNUP_EXISTING_ACCOUNT,
            recipient=Recipient(user_id=user.id, email=user.email, name=user.name),
            locale=user.locale,
            data={
                "name": user.name,
                "login_link": self._link("/"),
                "reset_link": self._link("/conta/esqueci-a-senha"),
            },
        )
        audit(db, origin, "user.signup_attempted_existing", "user", user.id)

    async def resend_verification(self, origin: Origin, email: str) -> None:
        """Send a new link if the address has an unconfirmed account (the answer never says)."""
        email = normalise_email(email)
        await self.limiter.spend_email_request(origin.ip, email)
        async with self.db.transaction() as db:
            user = await repository.get_user_by_email(db, email)
            if user is not None and user.email_verified_at is None:
                await self._send_verification(db, origin, user)
            audit(db, origin, "user.verification_requested", "user", user.id if user else None)

    async def verify_email(self, origin: Origin, token: str) -> None:
        async with self.db.transaction() as db:
            user_id = await repository.consume_email_token(
                db, digest(token), purpose=VERIFY_EMAIL, now=self.clock.now()
            )
            if user_id is None:
                raise Refused("invalid_link")
            user = await self._user(db, user_id)
            user.email_verified_at = user.email_verified_at or self.clock.now()
            origin.as_actor(Actor(kind=ActorKind.USER, id=str(user.id)))
            audit(db, origin, "user.email_verified", "user", user.id, after={"email": user.email})

    # --- signing in -----------------------------------------------------------------------

    async def login(self, origin: Origin, *, email: str, password: str) -> Session:
        """Check the password; the session is half-open (``mfa_pending``) when 2FA is on."""
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
                fresh = await self._user(db, user.id)
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
        return await self.sessions.create(
            user_id=user.id,
            stamp=user.session_stamp,
            company_id=company_id,
            mfa_pending=two_factor,
        )

    async def login_second_factor(self, origin: Origin, pending: Session, code: str) -> Session:
        """Finish signing in with a TOTP or recovery code: a full session, new id."""
        async with self.db.transaction() as db:
            user = await self._user(db, pending.user_id)
        await self.limiter.check_login(user.email, origin.ip)
        async with self.db.transaction() as db:
            user = await self._user(db, pending.user_id)
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

    # --- passwords ------------------------------------------------------------------------

    async def forgot_password(self, origin: Origin, email: str) -> None:
        """E-mail a single-use reset link if the account exists (the answer never says)."""
        email = normalise_email(email)
        await self.limiter.spend_email_request(origin.ip, email)
        async with self.db.transaction() as db:
            user = await repository.get_user_by_email(db, email)
            if user is not None:
                await self._email_link(
                    db,
                    origin,
                    user,
                    PASSWORD_RESET,
                    self.settings.password_reset_ttl_s,
                    "/conta/redefinir-senha",
                )
            audit(db, origin, "user.password_reset_requested", "user", user.id if user else None)

    async def reset_password(self, origin: Origin, token: str, password: str) -> None:
        """Set a new password from a reset link; every session of the person ends."""
        password_hash = await self.passwords.hash(password)
        now = self.clock.now()
        async with self.db.transaction() as db:
            user_id = await repository.consume_email_token(
                db, digest(token), purpose=PASSWORD_RESET, now=now
            )
            if user_id is None:
                raise Refused("invalid_link")
            user = await self._user(db, user_id)
            await repository.expire_email_tokens(db, user.id, purpose=PASSWORD_RESET, now=now)
            user.password_hash = password_hash
            user.email_verified_at = user.email_verified_at or now  # the link proved the address
            user.session_stamp += 1
            origin.as_actor(Actor(kind=ActorKind.USER, id=str(user.id)))
            audit(db, origin, "user.password_reset", "user", user.id)
        await self.sessions.delete_all(user.id)
        await self.limiter.login_succeeded(user.email)

    async def change_password(
        self, origin: Origin, session: Session, current: str, new: str
    ) -> Session:
        """A new password; other sessions end and this one gets a new id."""
        async with self.db.transaction() as db:
            user = await self._user(db, session.user_id)
        await self.limiter.check_login(user.email, origin.ip)
        if not await self.passwords.verify(user.password_hash, current):
            await self.limiter.login_failed(user.email, origin.ip)
            async with self.db.transaction() as db:
                audit(db, origin, "user.password_change_failed", "user", user.id)
            raise Refused("invalid_credentials")
        password_hash = await self.passwords.hash(new)
        async with self.db.transaction() as db:
            user = await self._user(db, session.user_id)
            user.password_hash = password_hash
            user.session_stamp += 1
            stamp = user.session_stamp
            audit(db, origin, "user.password_changed", "user", user.id)
        await self.sessions.delete_all(user.id, keep=session)
        return await self.sessions.rotate(session, stamp=stamp)

    # --- two-factor authentication --------------------------------------------------------

    async def start_totp(self, origin: Origin, user_id: UUID) -> tuple[str, str]:
        """A new TOTP secret to scan; 2FA turns on once a code from it is confirmed."""
        async with self.db.transaction() as db:
            user = await self._user(db, user_id)
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
            user = await self._user(db, session.user_id)
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
            user = await self._user(db, session.user_id)
        if user.totp_enabled_at is None:
            raise Refused("totp_not_enabled")
        await self.limiter.check_login(user.email, origin.ip)
        if not await self.passwords.verify(user.password_hash, password):
            await self.limiter.login_failed(user.email, origin.ip)
            raise Refused("invalid_credentials")
        async with self.db.transaction() as db:
            user = await self._user(db, session.user_id)
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
            user = await self._user(db, user_id)
            if user.totp_enabled_at is None or user.totp_secret is None:
                raise Refused("totp_not_enabled")
            match = self._match_totp(user, code)
            if match is None:
                raise Refused("invalid_code")
            user.totp_last_step = match.step
            codes = await self._new_recovery_codes(db, user)
            audit(db, origin, "user.recovery_codes_regenerated", "user", user.id)
        return codes

    # --- companies and members --------------------------------------------------------------

    async def switch_company(self, origin: Origin, session: Session, company_id: UUID) -> Session:
        async with self.db.transaction() as db:
            if await repository.get_membership(db, session.user_id, company_id) is None:
                raise Refused("not_found")
            audit(
                db,
                origin,
                "user.company_switched",
                "company",
                company_id,
                before={"company_id": str(session.company_id) if session.company_id else None},
                after={"company_id": str(company_id)},
                company_id=company_id,
            )
        return await self.sessions.rotate(session, company_id=company_id, acting_company_id=None)

    async def update_company(self, origin: Origin, company_id: UUID, *, name: str) -> Company:
        async with self.db.transaction() as db:
            company = await repository.lock_company(db, company_id)
            if company is None:
                raise Refused("not_found")
            before = {"name": company.name}
            company.name = name
            send(
                db,
                origin,
                CompanyUpdated(company_id=company.id, name=company.name, locale=company.locale),
                topic=IDENTITY_COMPANY,
                key=company.id,
            )
            audit(
                db,
                origin,
                "company.updated",
                "company",
                company.id,
                before=before,
                after={"name": name},
            )
        return company

    async def invite(
        self, origin: Origin, principal: Principal, *, email: str, role: CompanyRole
    ) -> Invitation:
        """Invite someone by e-mail into the active company with a role."""
        company_id = principal.company_id
        assert company_id is not None
        email = normalise_email(email)
        check_invitation_role(manages_owners=principal.manages_owners, role=role)
        now = self.clock.now()
        token = new_secret()
        async with self.db.transaction() as db:
            company = await repository.get_company(db, company_id)
            if company is None:
                raise Refused("not_found")
            existing = await repository.get_user_by_email(db, email)
            if existing and await repository.get_membership(db, existing.id, company_id):
                raise Refused("already_member")
            invitation = Invitation(
                id=new_id(),
                company_id=company_id,
                email=email,
                role=role.value,
                token_hash=digest(token),
                invited_by=principal.user_id,
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.invitation_ttl_s),
            )
            db.add(invitation)
            inviter = await repository.get_user(db, principal.user_id)
            notify(
                db,
                origin,
                template="invitation",
                recipient=Recipient(email=email),
                locale=company.locale,
                data={
                    "company_name": company.name,
                    "inviter_name": inviter.name if inviter else None,
                    "role": role.value,
                    "link": self._link("/conta/convite", token),
                    "expires_at": invitation.expires_at.isoformat(),
                },
            )
            audit(
                db,
                origin,
                "member.invited",
                "invitation",
                invitation.id,
                after={"email": email, "role": role.value},
            )
        return invitation

    async def revoke_invitation(
        self, origin: Origin, company_id: UUID, invitation_id: UUID
    ) -> None:
        async with self.db.transaction() as db:
            invitation = await repository.get_invitation(db, invitation_id, company_id)
            if invitation is None:
                raise Refused("not_found")
            invitation.revoked_at = invitation.revoked_at or self.clock.now()
            audit(db, origin, "member.invitation_revoked", "invitation", invitation.id)

    async def _open_invitation(self, db: AsyncSession, token: str) -> Invitation:
        invitation = await repository.invitation_by_token(db, digest(token))
        if (
            invitation is None
            or invitation.revoked_at is not None
            or invitation.accepted_at is not None
            or invitation.expires_at <= self.clock.now()
        ):
            raise Refused("invalid_link")
        return invitation

    def _join(
        self, db: AsyncSession, origin: Origin, invitation: Invitation, user_id: UUID
    ) -> None:
        now = self.clock.now()
        db.add(
            Membership(
                user_id=user_id,
                company_id=invitation.company_id,
                role=invitation.role,
                created_at=now,
            )
        )
        invitation.accepted_at = now
        origin.company_id = invitation.company_id
        send(
            db,
            origin,
            MembershipGranted(
                user_id=user_id, company_id=invitation.company_id, role=CompanyRole(invitation.role)
            ),
            topic=IDENTITY_USER,
            key=user_id,
        )
        audit(
            db,
            origin,
            "member.joined",
            "membership",
            user_id,
            after={"role": invitation.role, "invitation_id": str(invitation.id)},
        )

    async def accept_invitation(self, origin: Origin, session: Session, token: str) -> Session:
        """The signed-in person joins the inviting company, which becomes their active one."""
        async with self.db.transaction() as db:
            invitation = await self._open_invitation(db, token)
            user = await self._user(db, session.user_id)
            if user.email != invitation.email:
                raise Refused("invitation_other_email")
            if await repository.get_membership(db, user.id, invitation.company_id):
                raise Refused("already_member")
            self._join(db, origin, invitation, user.id)
            user.session_stamp += 1
            stamp = user.session_stamp
        return await self.sessions.rotate(
            session, stamp=stamp, company_id=invitation.company_id, acting_company_id=None
        )

    async def sign_up_invited(
        self, origin: Origin, *, token: str, name: str, password: str, locale: str
    ) -> User:
        """Create an account from an invitation (the link proves the e-mail) and join."""
        password_hash = await self.passwords.hash(password)
        now = self.clock.now()
        try:
            async with self.db.transaction() as db:
                invitation = await self._open_invitation(db, token)
                if await repository.get_user_by_email(db, invitation.email) is not None:
                    raise Refused("email_taken")
                user = User(
                    id=new_id(),
                    email=invitation.email,
                    name=name,
                    locale=locale,
                    password_hash=password_hash,
                    email_verified_at=now,
                    created_at=now,
                )
                db.add(user)
                await db.flush()
                origin.as_actor(Actor(kind=ActorKind.USER, id=str(user.id)))
                send(
                    db,
                    origin,
                    UserRegistered(user_id=user.id, email=user.email, name=name, locale=locale),
                    topic=IDENTITY_USER,
                    key=user.id,
                )
                self._join(db, origin, invitation, user.id)
        except sa.exc.IntegrityError:
            raise Refused("email_taken") from None
        return user

    async def change_role(
        self, origin: Origin, principal: Principal, user_id: UUID, role: CompanyRole
    ) -> Membership:
        company_id = principal.company_id
        assert company_id is not None
        async with self.db.transaction() as db:
            await repository.lock_company(db, company_id)
            membership = await repository.get_membership(db, user_id, company_id, lock=True)
            if membership is None:
                raise Refused("not_found")
            previous = CompanyRole(membership.role)
            check_role_change(
                manages_owners=principal.manages_owners,
                current=previous,
                new=role,
                owners=await repository.count_owners(db, company_id),
            )
            if previous is not role:
                membership.role = role.value
                await repository.bump_stamp(db, user_id)
                send(
                    db,
                    origin,
                    MembershipRoleChanged(
                        user_id=user_id, company_id=company_id, previous_role=previous, role=role
                    ),
                    topic=IDENTITY_USER,
                    key=user_id,
                )
            audit(
                db,
                origin,
                "member.role_changed",
                "membership",
                user_id,
                before={"role": previous.value},
                after={"role": role.value},
            )
        return membership

    async def remove_member(self, origin: Origin, principal: Principal, user_id: UUID) -> None:
        company_id = principal.company_id
        assert company_id is not None
        async with self.db.transaction() as db:
            await repository.lock_company(db, company_id)
            membership = await repository.get_membership(db, user_id, company_id, lock=True)
            if membership is None:
                raise Refused("not_found")
            check_role_change(
                manages_owners=principal.manages_owners,
                current=CompanyRole(membership.role),
                new=None,
                owners=await repository.count_owners(db, company_id),
            )
            await repository.delete_membership(db, membership)
            await repository.bump_stamp(db, user_id)
            send(
                db,
                origin,
                MembershipRevoked(user_id=user_id, company_id=company_id),
                topic=IDENTITY_USER,
                key=user_id,
            )
            audit(
                db,
                origin,
                "member.removed",
                "membership",
                user_id,
                before={"role": membership.role},
            )

    # --- API tokens -------------------------------------------------------------------------

    async def create_token(
        self,
        origin: Origin,
        principal: Principal,
        *,
        name: str,
        permissions: list[Permission],
        expires_in_days: int | None,
    ) -> NewToken:
        company_id = principal.company_id
        assert company_id is not None
        if principal.acting:  # a token acts with its creator's membership; staff have none here
            raise Refused("permission_not_grantable", permission=Permission.TOKENS_MANAGE.value)
        granted = token_permissions(permissions, principal.permissions)
        now = self.clock.now()
        secret = new_secret(TOKEN_PREFIX)
        token = ApiToken(
            id=new_id(),
            company_id=company_id,
            name=name,
            token_hash=digest(secret),
            prefix=secret[:12],
            permissions=[p.value for p in granted],
            created_by=principal.user_id,
            created_at=now,
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        async with self.db.transaction() as db:
            db.add(token)
            audit(
                db,
                origin,
                "api_token.created",
                "api_token",
                token.id,
                after={"name": name, "permissions": token.permissions, "prefix": token.prefix},
            )
        return NewToken(token, secret)

    async def revoke_token(self, origin: Origin, company_id: UUID, token_id: UUID) -> None:
        async with self.db.transaction() as db:
            token = await repository.get_token(db, token_id, company_id)
            if token is None:
                raise Refused("not_found")
            token.revoked_at = token.revoked_at or self.clock.now()
            audit(
                db, origin, "api_token.revoked", "api_token", token.id, after={"name": token.name}
            )

    # --- staff ------------------------------------------------------------------------------

    async def set_staff_role(self, origin: Origin, user_id: UUID, role: StaffRole | None) -> User:
        async with self.db.transaction() as db:
            user = await self._user(db, user_id)
            before = {"staff_role": user.staff_role}
            user.staff_role = role.value if role else None
            user.session_stamp += 1
            send(
                db,
                origin,
                StaffRoleChanged(user_id=user.id, role=user.staff_role),
                topic=IDENTITY_USER,
                key=user.id,
            )
            audit(
                db,
                origin,
                "staff.role_changed",
                "user",
                user.id,
                before=before,
                after={"staff_role": user.staff_role},
            )
        return user

    async def act_on_company(
        self, origin: Origin, session: Session, company_id: UUID, reason: str
    ) -> Session:
        """A staff member opens a company: explicit, with a reason, in its audit trail."""
        async with self.db.transaction() as db:
            if await repository.get_company(db, company_id) is None:
                raise Refused("not_found")
            audit(
                db,
                origin,
                "staff.acting_started",
                "company",
                company_id,
                after={"reason": reason},
                company_id=company_id,
            )
        return await self.sessions.rotate(session, acting_company_id=company_id)

    async def stop_acting(self, origin: Origin, session: Session) -> Session:
        async with self.db.transaction() as db:
            audit(
                db,
                origin,
                "staff.acting_stopped",
                "company",
                session.acting_company_id,
                company_id=session.acting_company_id,
            )
        return await self.sessions.rotate(session, acting_company_id=None)
