"""What the API reads and answers (never the tables themselves)."""

# ruff: noqa: S106 - the passwords and tokens here are OpenAPI examples

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from hospeda.contracts.identity import CompanyRole
from hospeda.gateway.permissions import Permission, StaffRole

EXAMPLE_USER = "0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a01"
EXAMPLE_COMPANY = "0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a02"

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Password = Annotated[
    str, Field(min_length=12, max_length=256, examples=["cavalo-correto-bateria-grampo"])
]
Locale = Literal["pt-BR", "en"]
Secret = Annotated[str, Field(min_length=1, max_length=200)]
Code = Annotated[
    str,
    Field(
        min_length=6,
        max_length=20,
        description="A 6-digit code from the authenticator app, or a recovery code.",
        examples=["123456"],
    ),
]


def example(**values: Any) -> ConfigDict:
    """A model's OpenAPI example."""
    return ConfigDict(json_schema_extra={"examples": [values]})


# --- accounts -----------------------------------------------------------------------------


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


class Login(BaseModel):
    model_config = example(email="maria@paoquente.com.br", password="cavalo-correto-bateria-grampo")

    email: EmailStr
    password: Annotated[str, Field(min_length=1, max_length=256)]


class SecondFactor(BaseModel):
    model_config = example(code="123456")

    code: Code


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


class TotpDisable(BaseModel):
    model_config = example(password="cavalo-correto-bateria-grampo", code="123456")

    password: Annotated[str, Field(min_length=1, max_length=256)]
    code: Code


class Outcome(BaseModel):
    model_config = example(status="accepted")

    status: str = "accepted"


class SessionInfo(BaseModel):
    """The signed-in session: echo ``csrf_token`` in ``X-CSRF-Token`` on every change."""

    model_config = example(
        mfa_required=False,
        csrf_token="x0H8n2v7u1KqW5sY9dTcR4eJ",
        user_id=EXAMPLE_USER,
        company_id=EXAMPLE_COMPANY,
        acting=False,
    )

    mfa_required: bool
    csrf_token: str
    user_id: UUID
    company_id: UUID | None
    acting: bool = False


class TotpSetup(BaseModel):
    model_config = example(
        secret="JBSWY3DPEHPK3PXP",
        otpauth_uri="otpauth://totp/Hospeda:maria%40paoquente.com.br?secret=JBSWY3DPEHPK3PXP&issuer=Hospeda",
    )

    secret: str = Field(description="Type it into the app if you cannot scan the QR code.")
    otpauth_uri: str = Field(description="Show as a QR code.")


class RecoveryCodes(BaseModel):
    """Shown once: keep them somewhere safe; each works once instead of a code."""

    model_config = example(recovery_codes=["k7x2-m9qp-4hvd", "a3bc-d4ef-g5hj"])

    recovery_codes: list[str]


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


class SwitchCompany(BaseModel):
    model_config = example(company_id=EXAMPLE_COMPANY)

    company_id: UUID


# --- company ------------------------------------------------------------------------------


class CompanyOut(BaseModel):
    model_config = example(id=EXAMPLE_COMPANY, name="Padaria Pão Quente", locale="pt-BR")

    id: UUID
    name: str
    locale: str


class CompanyUpdate(BaseModel):
    model_config = example(name="Padaria Pão Quente Ltda.")

    name: Name


class Member(BaseModel):
    model_config = example(
        user_id=EXAMPLE_USER, name="Maria Souza", email="maria@paoquente.com.br", role="owner"
    )

    user_id: UUID
    name: str
    email: str
    role: CompanyRole
    two_factor: bool = False


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


class TokenIn(BaseModel):
    model_config = example(
        name="ERP da padaria", permissions=["invoices:read", "services:read"], expires_in_days=90
    )

    name: Name
    permissions: list[Permission] = Field(min_length=1, max_length=40)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    model_config = example(
        id="0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a04",
        name="ERP da padaria",
        prefix="hsp_3kQ9zXw1",
        permissions=["invoices:read"],
        created_at="2026-07-01T12:00:00Z",
        expires_at=None,
        last_used_at=None,
        revoked=False,
    )

    id: UUID
    name: str
    prefix: str
    permissions: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked: bool


class NewTokenOut(TokenOut):
    """``token`` is shown only now: it is stored hashed and cannot be shown again."""

    token: str = Field(examples=["hsp_3kQ9zXw1..."])


# --- staff --------------------------------------------------------------------------------


class ActOnCompany(BaseModel):
    model_config = example(company_id=EXAMPLE_COMPANY, reason="Chamado #4512: fatura em dobro")

    company_id: UUID
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


class StaffRoleChange(BaseModel):
    model_config = example(role="operator")

    role: StaffRole | None = Field(description="None removes the person from staff.")
