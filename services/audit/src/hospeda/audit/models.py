"""The audit service's own tables (its database only; never sent over the wire).

Append-only (triggers refuse UPDATE, DELETE and TRUNCATE, see the migrations):
``audit_entry``, ``audit_entry_subject`` and ``audit_checkpoint``. The others
are bookkeeping the verifier never trusts (heads) or key material that must
be destroyable (subjects, aliases, keys).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from hospeda.runtime.types import UtcDateTime

APPEND_ONLY_TABLES = ("audit_entry", "audit_entry_subject", "audit_checkpoint")


class AuditModel(SQLModel, registry=registry()):
    """Base of the audit service's tables."""


METADATA = AuditModel.metadata


class AuditEntry(AuditModel, table=True):
    """One action, as stored and hashed (see ``domain``): leaf ``leaf_index`` of
    the log's Merkle tree and entry ``seq`` of its company's chain."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        sa.UniqueConstraint("chain", "seq", name="uq_audit_entry_chain_seq"),
        sa.Index("ix_audit_entry_chain_leaf", "chain", "leaf_index"),
        sa.Index("ix_audit_entry_chain_entity", "chain", "entity", "entity_id"),
        sa.Index("ix_audit_entry_chain_actor", "chain", "actor_id"),
    )

    leaf_index: int = Field(
        sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False)
    )
    id: UUID = Field(sa_column=sa.Column(sa.Uuid, nullable=False, unique=True))
    message_id: UUID = Field(sa_column=sa.Column(sa.Uuid, nullable=False, unique=True))
    v: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    chain: str = Field(max_length=64, description="The company id, or `platform`.")
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    company_id: UUID | None = None
    occurred_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    recorded_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    actor_kind: str = Field(max_length=20)
    actor_id: str | None = Field(default=None, max_length=200)
    action: str = Field(max_length=100)
    entity: str = Field(max_length=100)
    entity_id: str | None = Field(default=None, max_length=255)
    before: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    after: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    ip: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    user_agent: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    topic: str = Field(max_length=255)
    correlation_id: UUID = Field(index=True)
    causation_id: UUID | None = None
    trace_id: str | None = Field(default=None, max_length=32)
    category: str = Field(max_length=20)
    migrated_from: str | None = Field(default=None, max_length=200)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class EntrySubject(AuditModel, table=True):
    """Which subjects' data an entry holds (for export and erasure)."""

    __tablename__ = "audit_entry_subject"

    subject_id: UUID = Field(primary_key=True)
    leaf_index: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True))


class Checkpoint(AuditModel, table=True):
    """A signed tree head (see ``domain.Note``)."""

    __tablename__ = "audit_checkpoint"

    number: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    tree_size: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    root_hash: str = Field(max_length=64)
    issued_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    key_id: str = Field(max_length=16)
    public_key: str = Field(max_length=64)
    signature: str = Field(max_length=128)
    note: str = Field(sa_column=sa.Column(sa.Text, nullable=False))


class LogHead(AuditModel, table=True):
    """The log's size and Merkle frontier, so appending needs no scan; and the
    sealed secret that names subjects (one row)."""

    __tablename__ = "audit_log_head"

    id: int = Field(default=1, primary_key=True)
    tree_size: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    frontier: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    alias_secret: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    checkpoints: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))


class ChainHead(AuditModel, table=True):
    """The newest entry of each chain, so appending needs no scan."""

    __tablename__ = "audit_chain_head"

    chain: str = Field(primary_key=True, max_length=64)
    last_seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    last_hash: str = Field(max_length=64)


class Subject(AuditModel, table=True):
    """A data subject: a person (or company) whose data entries hold, known only
    by this random id."""

    __tablename__ = "audit_subject"

    id: UUID = Field(primary_key=True)
    created_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    erased_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime))


class SubjectAlias(AuditModel, table=True):
    """``HMAC(alias secret, ref)`` → subject: how an e-mail or user id finds its
    subject without being stored. Deleted on erasure."""

    __tablename__ = "audit_subject_alias"

    alias: str = Field(primary_key=True, max_length=64)
    subject_id: UUID = Field(primary_key=True)
    created_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))


class SubjectKey(AuditModel, table=True):
    """One subject's data key for one retention category and month, sealed with
    the service's data key. Destroying it is the erasure."""

    __tablename__ = "audit_subject_key"

    subject_id: UUID = Field(primary_key=True)
    category: str = Field(primary_key=True, max_length=20)
    period: str = Field(primary_key=True, max_length=6)
    sealed: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
