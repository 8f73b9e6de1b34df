"""Signing in, the session, and two-factor authentication."""

# ruff: noqa: S106 - the passwords here are OpenAPI examples

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, EmailStr, Field

from hospeda.gateway.schemas.common import EXAMPLE_COMPANY, EXAMPLE_USER, example
from hospeda.gateway.sessions import Session

Code = Annotated[
    str,
    Field(
        min_length=6,
        max_length=20,
        description="A 6-digit code from the authenticator app, or a recovery code.",
        examples=["123456"],
    ),
]


class Login(BaseModel):
    model_config = example(email="maria@paoquente.com.br", password="cavalo-correto-bateria-grampo")

    email: EmailStr
    password: Annotated[str, Field(min_length=1, max_length=256)]


class SecondFactor(BaseModel):
    model_config = example(code="123456")

    code: Code


class TotpDisable(BaseModel):
    model_config = example(password="cavalo-correto-bateria-grampo", code="123456")

    password: Annotated[str, Field(min_length=1, max_length=256)]
    code: Code


class Reauthenticate(BaseModel):
    """The password, or a 2FA code (or a recovery code) — one of them."""

    model_config = example(password="cavalo-correto-bateria-grampo")

    password: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    code: Code | None = None


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

    @classmethod
    def of(cls, session: Session) -> SessionInfo:
        return cls(
            mfa_required=session.mfa_pending,
            csrf_token=session.csrf,
            user_id=session.user_id,
            company_id=session.acting_company_id or session.company_id,
            acting=session.acting_company_id is not None,
        )


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
