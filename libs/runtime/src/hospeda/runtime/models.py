"""The runtime's own tables, present in every service's database: the
transactional outbox, the inbox of processed messages, and durable jobs.

They live in their own SQLModel registry (``RUNTIME_METADATA``) and their own
migration history, separate from each service's tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from hospeda.runtime.types import BigIntPK, JSONType, UtcDateTime


class RuntimeModel(SQLModel, registry=registry()):
    """Base of the runtime's tables."""


RUNTIME_METADATA = RuntimeModel.metadata


class OutboxMessage(RuntimeModel, table=True):
    """A message written in the same transaction as the state change it
    announces; the relay publishes it and deletes the row."""

    __tablename__ = "outbox_message"

    seq: int | None = Field(
        default=None, sa_column=sa.Column(BigIntPK, primary_key=True, autoincrement=True)
    )
    message_id: UUID
    topic: str = Field(max_length=255)
    key: str | None = Field(default=None, max_length=255)
    value: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    headers: list[list[str]] = Field(
        default_factory=list, sa_column=sa.Column(JSONType, nullable=False)
    )
    created_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))


class InboxMessage(RuntimeModel, table=True):
    """A message a consumer has already applied: a redelivery is a no-op."""

    __tablename__ = "inbox_message"

    consumer: str = Field(primary_key=True, max_length=100)
    message_id: UUID = Field(primary_key=True)
    processed_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False, index=True))


class Job(RuntimeModel, table=True):
    """A durable unit of work with retries, a lease and a step log."""

    __tablename__ = "job"
    __table_args__ = (
        sa.Index(
            "ix_job_ready",
            "queue",
            "seq",
            postgresql_where=sa.text("state IN ('queued', 'running')"),
            sqlite_where=sa.text("state IN ('queued', 'running')"),
        ),
        sa.Index("ix_job_state", "queue", "state"),
        sa.Index(
            "ix_job_key_seq",
            "queue",
            "key",
            "seq",
            postgresql_where=sa.text("key IS NOT NULL"),
            sqlite_where=sa.text("key IS NOT NULL"),
        ),
        sa.Index(
            "ix_job_running_target",
            "target",
            postgresql_where=sa.text("state = 'running'"),
            sqlite_where=sa.text("state = 'running'"),
        ),
    )

    seq: int | None = Field(
        default=None, sa_column=sa.Column(BigIntPK, primary_key=True, autoincrement=True)
    )
    id: UUID = Field(sa_column=sa.Column(sa.Uuid, nullable=False, unique=True))
    queue: str = Field(max_length=50)
    kind: str = Field(max_length=100)
    key: str | None = Field(default=None, max_length=255)
    target: str | None = Field(default=None, max_length=255)
    dedupe_key: str | None = Field(default=None, sa_column=sa.Column(sa.String(255), unique=True))
    state: str = Field(max_length=20)
    payload: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(JSONType, nullable=False)
    )
    attempts: int = 0
    max_attempts: int = 5
    run_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_token: UUID | None = None
    lease_until: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime))
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    steps_done: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(JSONType, nullable=False)
    )
    company_id: UUID | None = None
    correlation_id: UUID | None = None
    causation_id: UUID | None = None
    trace_context: dict[str, str] = Field(
        default_factory=dict, sa_column=sa.Column(JSONType, nullable=False)
    )
    created_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime))


class JobLog(RuntimeModel, table=True):
    """One line of a job's visible history: a step started, succeeded or
    failed, a retry was scheduled, an operator acted."""

    __tablename__ = "job_log"

    id: int | None = Field(
        default=None, sa_column=sa.Column(BigIntPK, primary_key=True, autoincrement=True)
    )
    job_id: UUID = Field(index=True)
    at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    attempt: int
    step: str | None = Field(default=None, max_length=100)
    status: str = Field(max_length=20)
    message: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
