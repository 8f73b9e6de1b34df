"""Identity facts published by the gateway: companies (tenants), users and memberships."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import EmailStr, Field

from hospeda.contracts.envelope import Payload


class CompanyRole(StrEnum):
    """A person's role inside one company."""

    OWNER = "owner"
    ADMIN = "admin"
    BILLING = "billing"
    TECHNICAL = "technical"
    VIEWER = "viewer"


class CompanyRegistered(Payload):
    """A company (tenant) signed up. Key: company id."""

    TYPE: ClassVar[str] = "identity.company.registered"
    company_id: UUID
    name: str = Field(min_length=1, max_length=200)
    owner_user_id: UUID
    locale: str = Field(default="pt-BR", max_length=10)


class CompanyUpdated(Payload):
    """A company's profile changed; this is its current state. Key: company id."""

    TYPE: ClassVar[str] = "identity.company.updated"
    company_id: UUID
    name: str = Field(min_length=1, max_length=200)
    locale: str = Field(default="pt-BR", max_length=10)


class UserRegistered(Payload):
    """A person created a login. Key: user id."""

    TYPE: ClassVar[str] = "identity.user.registered"
    user_id: UUID
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    locale: str = Field(default="pt-BR", max_length=10)


class MembershipGranted(Payload):
    """A person joined a company with a role. Key: user id."""

    TYPE: ClassVar[str] = "identity.membership.granted"
    user_id: UUID
    company_id: UUID
    role: CompanyRole


class MembershipRoleChanged(Payload):
    """A member's role changed. Key: user id."""

    TYPE: ClassVar[str] = "identity.membership.role_changed"
    user_id: UUID
    company_id: UUID
    previous_role: CompanyRole
    role: CompanyRole


class MembershipRevoked(Payload):
    """A person left or was removed from a company. Key: user id."""

    TYPE: ClassVar[str] = "identity.membership.revoked"
    user_id: UUID
    company_id: UUID


class StaffRoleChanged(Payload):
    """A person became Hospeda staff, changed staff role, or stopped being
    staff (``role`` absent). Key: user id."""

    TYPE: ClassVar[str] = "identity.staff.role_changed"
    user_id: UUID
    role: str | None = Field(
        default=None, description="`superadmin`, `support`, `billing`, `operator` or `auditor`."
    )
