"""Passkeys (WebAuthn): the ceremonies' options and answers, and a person's passkeys.

Binary fields travel as base64url strings (the WebAuthn JSON encoding, what
``PublicKeyCredential.toJSON()`` gives), both ways.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hospeda.gateway.models import Passkey
from hospeda.gateway.schemas.common import example

PasskeyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]

Credential = Annotated[
    dict[str, Any],
    Field(
        description="The browser's credential as WebAuthn JSON: id, rawId, type, response "
        "(base64url fields), as ``PublicKeyCredential.toJSON()`` gives."
    ),
]


class PasskeyOptions(BaseModel):
    """Hand ``publicKey`` (base64url fields decoded) to ``navigator.credentials.create``
    or ``.get``; answer before ``timeout`` ms, once."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "publicKey": {
                        "challenge": "q83vEjRWeJq83vEjRWeJ",
                        "rpId": "hospeda.com.br",
                        "timeout": 300000,
                        "userVerification": "required",
                        "allowCredentials": [],
                    }
                }
            ]
        }
    )

    publicKey: dict[str, Any]


class PasskeyRegistration(BaseModel):
    model_config = example(
        credential={"id": "…", "rawId": "…", "type": "public-key", "response": {}},
        name="Celular da Maria",
    )

    credential: Credential
    name: PasskeyName | None = None


class PasskeyLogin(BaseModel):
    model_config = example(
        credential={"id": "…", "rawId": "…", "type": "public-key", "response": {}}
    )

    credential: Credential


class PasskeyRename(BaseModel):
    model_config = example(name="Notebook do escritório")

    name: PasskeyName


class PasskeyOut(BaseModel):
    model_config = example(
        id="0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a10",
        name="Celular da Maria",
        created_at="2026-12-01T12:00:00Z",
        last_used_at="2026-12-03T09:30:00Z",
        synced=True,
    )

    id: UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None
    synced: bool = Field(description="Backed up and available on the person's other devices.")

    @classmethod
    def of(cls, passkey: Passkey) -> PasskeyOut:
        return cls(
            id=passkey.id,
            name=passkey.name,
            created_at=passkey.created_at,
            last_used_at=passkey.last_used_at,
            synced=passkey.backed_up,
        )


class MyPasskeys(BaseModel):
    """``has_password``: whether signing in with the password still works (the
    last passkey can be removed only then)."""

    items: list[PasskeyOut]
    has_password: bool
