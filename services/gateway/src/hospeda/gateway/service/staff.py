"""Staff: staff roles, finding companies, and acting on one (explicitly, with a
reason, recorded in that company's audit trail)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from hospeda.contracts.identity import StaffRoleChanged
from hospeda.contracts.topics import IDENTITY_USER
from hospeda.gateway import repository
from hospeda.gateway.domain import Refused
from hospeda.gateway.models import Company, User
from hospeda.gateway.outgoing import Origin, audit, send
from hospeda.gateway.permissions import StaffRole
from hospeda.gateway.service.core import IdentityCore, locked_user
from hospeda.gateway.sessions import Session


class Staff(IdentityCore):
    """What only staff do."""

    async def search_companies(
        self, *, query: str | None, after: UUID | None, limit: int
    ) -> Sequence[Company]:
        async with self.db.reading() as db:
            return await repository.search_companies(db, query=query, after=after, limit=limit)

    async def set_staff_role(self, origin: Origin, user_id: UUID, role: StaffRole | None) -> User:
        async with self.db.transaction() as db:
            user = await locked_user(db, user_id)
            before = {"staff_role": user.staff_role}
            user.staff_role = role.value if role else None
            user.session_stamp += 1
            send(  # notify addresses staff notices by staff role
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
