"""The active company: its profile, members and invitations; switching company."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, EmailStr

from hospeda.contracts.identity import CompanyRole
from hospeda.gateway.models import Invitation, Membership, User
from hospeda.gateway.schemas.common import EXAMPLE_COMPANY, EXAMPLE_USER, Name, example


class CompanyOut(BaseModel):
    model_config = example(id=EXAMPLE_COMPANY, name="Padaria Pão Quente", locale="pt-BR")

    id: UUID
    name: str
    locale: str

    @classmethod
    def of(cls, company: Any) -> CompanyOut:
        """From a ``Company`` row or a (id, name, locale) read."""
        return cls(id=company.id, name=company.name, locale=company.locale)


class CompanyUpdate(BaseModel):
    model_config = example(name="Padaria Pão Quente Ltda.")

    name: Name


class SwitchCompany(BaseModel):
    model_config = example(company_id=EXAMPLE_COMPANY)

    company_id: UUID


class Member(BaseModel):
    model_config = example(
        user_id=EXAMPLE_USER, name="Maria Souza", email="maria@paoquente.com.br", role="owner"
    )

    user_id: UUID
    name: str
    email: str
    role: CompanyRole
    two_factor: bool = False

    @classmethod
    def of(cls, user: User, membership: Membership) -> Member:
        return cls(
            user_id=user.id,
            name=user.name,
            email=user.email,
            role=CompanyRole(membership.role),
            two_factor=user.totp_enabled_at is not None,
        )


class RoleChange(BaseModel):
    model_config = example(role="billing")

    role: CompanyRole


class InvitationIn(BaseModel):
    model_config = example(email="joao@paoquente.com.br", role="technical")

    email: EmailStr
    role: CompanyRole


class InvitationOut(BaseModel):
    model_config = example(
        id="0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a03",
        email="joao@paoquente.com.br",
        role="technical",
        expires_at="2026-07-08T12:00:00Z",
    )

    id: UUID
    email: str
    role: CompanyRole
    expires_at: datetime

    @classmethod
    def of(cls, invitation: Invitation) -> InvitationOut:
        return cls.model_validate(invitation, from_attributes=True)
