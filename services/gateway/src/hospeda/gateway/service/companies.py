"""Companies and their members: the company's profile, invitations (and signing
up from one), roles, removing a member, and switching the active company."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts import Actor, ActorKind, new_id
from hospeda.contracts.identity import (
    CompanyRole,
    CompanyUpdated,
    MembershipGranted,
    MembershipRevoked,
    MembershipRoleChanged,
    UserRegistered,
)
from hospeda.contracts.notify import Recipient
from hospeda.contracts.topics import IDENTITY_COMPANY, IDENTITY_USER
from hospeda.gateway import repository
from hospeda.gateway.auth import Principal
from hospeda.gateway.domain import (
    Refused,
    check_invitation_role,
    check_role_change,
    normalise_email,
)
from hospeda.gateway.models import Company, Invitation, Membership, User
from hospeda.gateway.outgoing import Origin, audit, notify, send
from hospeda.gateway.security import digest, new_secret
from hospeda.gateway.service.core import IdentityCore, locked_user, public_link
from hospeda.gateway.sessions import Session


class Companies(IdentityCore):
    """The company, its members and invitations."""

    # --- the company ------------------------------------------------------------------------

    async def profile(self, company_id: UUID) -> sa.Row[Any]:
        """id, name and locale (one query outside any unit of work: a hot read)."""
        async with self.db.read() as conn:
            company = await repository.company_profile(conn, company_id)
        if company is None:
            raise Refused("not_found")
        return company

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

    # --- members ----------------------------------------------------------------------------

    async def members(
        self, company_id: UUID, *, after: UUID | None, limit: int
    ) -> Sequence[tuple[User, Membership]]:
        async with self.db.reading() as db:
            return await repository.members(db, company_id, after=after, limit=limit)

    @staticmethod
    async def _locked_membership(db: AsyncSession, company_id: UUID, user_id: UUID) -> Membership:
        """The membership, with its company locked: member changes of one company
        run one at a time (the last-owner rule)."""
        await repository.lock_company(db, company_id)
        membership = await repository.get_membership(db, user_id, company_id, lock=True)
        if membership is None:
            raise Refused("not_found")
        return membership

    async def change_role(
        self, origin: Origin, principal: Principal, user_id: UUID, role: CompanyRole
    ) -> Membership:
        company_id = principal.company_id
        assert company_id is not None
        async with self.db.transaction() as db:
            membership = await self._locked_membership(db, company_id, user_id)
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
            membership = await self._locked_membership(db, company_id, user_id)
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

    # --- invitations ------------------------------------------------------------------------

    async def pending_invitations(
        self, company_id: UUID, *, after: UUID | None, limit: int
    ) -> Sequence[Invitation]:
        async with self.db.reading() as db:
            return await repository.pending_invitations(
                db, company_id, now=self.clock.now(), after=after, limit=limit
            )

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
                    "link": public_link(self.settings, "/conta/convite", token),
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
            user = await locked_user(db, session.user_id)
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
