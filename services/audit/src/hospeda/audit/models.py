"""The audit service's own tables (its database only; never sent over the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from hospeda.runtime.types import BigIntPK, JSONType, UtcDateTime


class AuditModel(SQLModel, registry=registry()):
    """Base of the audit service's tables."""


METADATA = AuditModel.metadata


class AuditEntry(AuditModel, table=True):
    """One action in a tenant's trail, chained by hash to the one before it."""

    __tablename__ = "audit_entry"
    __table_args__ = (sa.Index("ix_audit_entry_chain_seq", "chain", "seq"),)

    seq: int | None = Field(
        default=None, sa_column=sa.Column(BigIntPK, primary_key=True, autoincrement=True)
    )
    message_id: UUID = Field(sa_column=sa.Column(sa.Uuid, nullable=False, unique=True))
    chain: str = Field(max_length=64, description="The company id, or `platform`.")
    company_id: UUID | None = None
    occurred_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    recorded_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    actor_kind: str = Field(max_length=20)
    actor_id: str | None = Field(default=None, max_length=200)
    action: str = Field(max_length=100)
    entity: str = Field(max_length=100)
    entity_id: str | None = Field(default=None, max_length=255)
    before: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONType))
    after: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONType))
    ip: str | None = Field(default=None, max_length=45)
    user_agent: str | None = Field(default=None, max_length=500)
    topic: str = Field(max_length=255)
    correlation_id: UUID = Field(index=True)
    causation_id: UUID | None = None
    trace_id: str | None = Field(default=None, max_length=32)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class ChainHead(AuditModel, table=True):
    """The newest entry of each chain, so appending needs no scan."""

    __tablename__ = "audit_chain_head"

    chain: str = Field(primary_key=True, max_length=64)
    last_seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    last_hash: str = Field(max_length=64)
