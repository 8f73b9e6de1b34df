"""API tokens of the active company."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from hospeda.gateway.models import ApiToken
from hospeda.gateway.permissions import Permission
from hospeda.gateway.schemas.common import Name, example


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

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.id,
            name=token.name,
            prefix=token.prefix,
            permissions=list(token.permissions),
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            revoked=token.revoked_at is not None,
        )


class NewTokenOut(TokenOut):
    """``token`` is shown only now: it is stored hashed and cannot be shown again."""

    token: str = Field(examples=["hsp_3kQ9zXw1..."])
