"""Accounts: sign-up (also from an invitation), e-mail links, passwords, and who I am."""

# ruff: noqa: S106 - the passwords and tokens here are OpenAPI examples

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, EmailStr, Field

from hospeda.contracts.identity import CompanyRole
from hospeda.gateway.permissions import StaffRole
from hospeda.gateway.schemas.common import (
    EXAMPLE_COMPANY,
    EXAMPLE_USER,
    Locale,
    Name,
    Password,
    Secret,
    example,
)


class SignUp(BaseModel):
    model_config = example(
        company_name="Padaria Pão Quente",
        name="Maria Souza",
        email="maria@paoquente.com.br",
        password="cavalo-correto-bateria-grampo",
        locale="pt-BR",
    )

    company_name: Name
    name: Name
    email: EmailStr
    password: Password
    locale: Locale = "pt-BR"


class SignedUp(BaseModel):
    model_config = example(user_id=EXAMPLE_USER, company_id=EXAMPLE_COMPANY, email_sent=True)

    user_id: UUID
    company_id: UUID
    email_sent: bool = Field(default=True, description="A confirmation link was e-mailed.")


class InvitedSignUp(BaseModel):
    model_config = example(
        token="Qm9hIHRlbnRhdGl2YS4uLg", name="João Lima", password="cavalo-correto-bateria-grampo"
    )

    token: Secret
    name: Name
    password: Password
    locale: Locale = "pt-BR"


class Token(BaseModel):
    model_config = example(token="Qm9hIHRlbnRhdGl2YS4uLg")

    token: Secret


class EmailOnly(BaseModel):
    model_config = example(email="maria@paoquente.com.br")

    email: EmailStr


class PasswordReset(BaseModel):
    model_config = example(token="Qm9hIHRlbnRhdGl2YS4uLg", password="cavalo-correto-bateria-grampo")

    token: Secret
    password: Password


class PasswordChange(BaseModel):
    model_config = example(
        current_password="cavalo-correto-bateria-grampo", new_password="outra-frase-bem-longa-42"
    )

    current_password: Annotated[str, Field(min_length=1, max_length=256)]
    new_password: Password


class CompanyOfMine(BaseModel):
    company_id: UUID
    name: str
    role: CompanyRole


class Me(BaseModel):
    model_config = example(
        user_id=EXAMPLE_USER,
        email="maria@paoquente.com.br",
        name="Maria Souza",
        locale="pt-BR",
        two_factor=True,
        staff_role=None,
        staff_needs_2fa=False,
        company_id=EXAMPLE_COMPANY,
        role="owner",
        acting=False,
        permissions=["company:read", "invoices:read"],
        companies=[{"company_id": EXAMPLE_COMPANY, "name": "Padaria Pão Quente", "role": "owner"}],
    )

    user_id: UUID
    email: str
    name: str
    locale: str
    two_factor: bool
    staff_role: StaffRole | None
    staff_needs_2fa: bool
    company_id: UUID | None
    role: str | None
    acting: bool
    permissions: list[str]
    companies: list[CompanyOfMine]
