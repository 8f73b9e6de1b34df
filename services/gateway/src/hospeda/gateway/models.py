"""The gateway's own tables: identity (its database only; never sent over the wire).

Secrets are stored only as hashes: passwords with argon2id, and the
high-entropy single-use links, recovery codes and API tokens with SHA-256.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from hospeda.runtime.types import JSONType, UtcDateTime


class GatewayModel(SQLModel, registry=registry()):
    """Base of the gateway service's tables."""


METADATA = GatewayModel.metadata


def _at(nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(UtcDateTime, nullable=nullable)


class Company(GatewayModel, table=True):
    """A tenant."""

    __tablename__ = "company"

    id: UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    locale: str = Field(default="pt-BR", max_length=10)
    created_at: datetime = Field(sa_column=_at())


class User(GatewayModel, table=True):
    """A person who signs in. ``staff_role`` makes them Hospeda staff."""

    __tablename__ = "user_account"

    id: UUID = Field(primary_key=True)
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True})
    name: str = Field(max_length=200)
    locale: str = Field(default="pt-BR", max_length=10)
    password_hash: str = Field(max_length=255)
    email_verified_at: datetime | None = Field(default=None, sa_column=_at(nullable=True))
    staff_role: str | None = Field(default=None, max_length=20)
    totp_secret: str | None = Field(default=None, max_length=255)  # sealed (SecretBox)
    totp_enabled_at: datetime | None = Field(default=None, sa_column=_at(nullable=True))
    totp_last_step: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False))
    session_stamp: int = Field(
        default=0, description="Bumped on every change of this person's privileges."
    )
    created_at: datetime = Field(sa_column=_at())


class Membership(GatewayModel, table=True):
    """A person's role in a company."""

    __tablename__ = "membership"

    user_id: UUID = Field(primary_key=True, foreign_key="user_account.id")
    company_id: UUID = Field(primary_key=True, foreign_key="company.id", index=True)
    role: str = Field(max_length=20)
    created_at: datetime = Field(sa_column=_at())


class Invitation(GatewayModel, table=True):
    """An invitation into a company with a role, sent by e-mail."""

    __tablename__ = "invitation"

    id: UUID = Field(primary_key=True)
    company_id: UUID = Field(foreign_key="company.id", index=True)
    email: str = Field(max_length=254)
    role: str = Field(max_length=20)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    invited_by: UUID
    created_at: datetime = Field(sa_column=_at())
    expires_at: datetime = Field(sa_column=_at())
    accepted_at: datetime | None = Field(default=None, sa_column=_at(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=_at(nullable=True))


class EmailToken(GatewayModel, table=True):
    """A single-use, expiring link sent by e-mail (verify-email, password-reset)."""

    __tablename__ = "email_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    purpose: str = Field(max_length=20)
    user_id: UUID = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = Field(sa_column=_at())
    expires_at: datetime = Field(sa_column=_at())
    used_at: datetime | None = Field(default=None, sa_column=_at(nullable=True))


class RecoveryCode(GatewayModel, table=True):
    """A one-time 2FA recovery code."""

    __tablename__ = "recovery_code"

    user_id: UUID = Field(primary_key=True, foreign_key="user_account.id")
    code_hash: str = Field(primary_key=True, max_length=64)
    used_at: datetime | None = Field(default=None, sa_column=_at(nullable=True))


class ApiToken(GatewayModel, table=True):
    """A partner's or script's credential: one company, some permissions."""

    __tablename__ = "api_token"

    id: UUID = Field(primary_key=True)
    company_id: UUID = Field(foreign_key="company.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    prefix: str = Field(max_length=16, description="The first characters, to recognise it.")
    permissions: list[str] = Field(sa_column=sa.Column(JSONType, nullable=False))
    created_by: UUID = Field(foreign_key="user_account.id")
    created_at: datetime = Field(sa_column=_at())
    expires_at: datetime | None = Field(default=None, sa_column=_at(nullable=True))
    last_used_at: datetime | None = Field(default=None, sa_column=_at(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=_at(nullable=True))


class Passkey(GatewayModel, table=True):
    """A person's WebAuthn credential ("chave de acesso"): a discoverable key held by
    their device, unlocked by biometrics or the screen lock. Only its public key is here."""

    __tablename__ = "passkey"

    id: UUID = Field(primary_key=True)
    user_id: UUID = Field(foreign_key="user_account.id", index=True)
    credential_id: str = Field(
        max_length=1400, sa_column_kwargs={"unique": True}, description="base64url"
    )
    public_key: str = Field(sa_column=sa.Column(sa.Text, nullable=False))  # COSE, base64url
    sign_count: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False))
    name: str = Field(max_length=100)
    aaguid: str = Field(default="", max_length=36)
    backed_up: bool = Field(default=False, description="Synced (e.g. a password manager).")
    transports: list[str] = Field(
        default_factory=list, sa_column=sa.Column(JSONType, nullable=False)
    )
    created_at: datetime = Field(sa_column=_at())
    last_used_at: datetime | None = Field(default=None, sa_column=_at(nullable=True))
