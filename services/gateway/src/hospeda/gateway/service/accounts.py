"""Accounts: sign-up, e-mail confirmation, forgotten and changed passwords, and
what a person sees about themselves."""

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
    MembershipGranted,
    UserRegistered,
)
from hospeda.contracts.notify import Recipient
from hospeda.contracts.topics import IDENTITY_COMPANY, IDENTITY_USER
from hospeda.gateway import repository
from hospeda.gateway.domain import Refused, normalise_email
from hospeda.gateway.models import Company, EmailToken, Membership, User
from hospeda.gateway.outgoing import Origin, audit, notify, send
from hospeda.gateway.security import digest, new_secret
from hospeda.gateway.service.core import IdentityCore, locked_user, public_link
from hospeda.gateway.sessions import Session

VERIFY_EMAIL = "verify-email"
PASSWORD_RESET = "password-reset"  # noqa: S105 - a template name
SIGNUP_EXISTING_ACCOUNT = "signup-existing-account"
PASSWORD_CHANGED = "password-changed"  # noqa: S105 - a template name
TOKENS_PAGE = "/app/tokens"  # where the web app lists and revokes API tokens


@dataclass(frozen=True)
class Profile:
    """A person and the companies they belong to."""

    user: User
    companies: list[repository.CompanyOfUser]


class Accounts(IdentityCore):
    """Sign-up, e-mail links, passwords, the profile."""

    # --- single-use links ---------------------------------------------------------------

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
                "link": public_link(self.settings, page, token),
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

    # --- sign-up and e-mail verification --------------------------------------------------

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
                "login_link": public_link(self.settings, "/"),
                "reset_link": public_link(self.settings, "/conta/esqueci-a-senha"),
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
            user = await locked_user(db, user_id)
            user.email_verified_at = user.email_verified_at or self.clock.now()
            origin.as_actor(Actor(kind=ActorKind.USER, id=str(user.id)))
            audit(db, origin, "user.email_verified", "user", user.id, after={"email": user.email})

    # --- passwords --------------------------------------------------------------------------

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
            user = await locked_user(db, user_id)
            await repository.expire_email_tokens(db, user.id, purpose=PASSWORD_RESET, now=now)
            user.password_hash = password_hash
            user.email_verified_at = user.email_verified_at or now  # the link proved the address
            user.session_stamp += 1
            origin.as_actor(Actor(kind=ActorKind.USER, id=str(user.id)))
            audit(db, origin, "user.password_reset", "user", user.id)
            # say what happened: every session ended; review the API tokens (they live on)
            notify(
                db,
                origin,
                template=PASSWORD_CHANGED,
                recipient=Recipient(user_id=user.id, email=user.email, name=user.name),
                locale=user.locale,
                data={
                    "name": user.name,
                    "tokens_link": public_link(self.settings, TOKENS_PAGE),
                    "reset_link": public_link(self.settings, "/conta/esqueci-a-senha"),
                },
            )
        await self.sessions.delete_all(user.id)
        await self.limiter.reset_account(user.email, user.id)

    async def change_password(
        self, origin: Origin, session: Session, current: str, new: str
    ) -> Session:
        """A new password; other sessions end and this one gets a new id."""
        async with self.db.transaction() as db:
            user = await locked_user(db, session.user_id)
        claim = await self.limiter.claim(self.limiter.step_up(user.id))
        if not await self.passwords.verify(user.password_hash, current):
            async with self.db.transaction() as db:
                audit(db, origin, "user.password_change_failed", "user", user.id)
            raise Refused("invalid_credentials")
        password_hash = await self.passwords.hash(new)
        async with self.db.transaction() as db:
            user = await locked_user(db, session.user_id)
            user.password_hash = password_hash
            user.session_stamp += 1
            stamp = user.session_stamp
            audit(db, origin, "user.password_changed", "user", user.id)
        await self.limiter.release(claim)
        await self.sessions.delete_all(user.id, keep=session)
        return await self.sessions.rotate(
            session, stamp=stamp, authenticated_at=self.clock.now().timestamp()
        )

    # --- reads ------------------------------------------------------------------------------

    async def profile(self, user_id: UUID) -> Profile:
        """The person and their companies (``not_found`` if the person is gone)."""
        async with self.db.reading() as db:
            user = await repository.get_user(db, user_id)
            companies = await repository.companies_of(db, user_id)
        if user is None:
            raise Refused("not_found")
        return Profile(user, companies)
