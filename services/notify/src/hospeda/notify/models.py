"""The notify service's own tables (its database only; never sent over the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from hospeda.runtime.types import JSONType, UtcDateTime


class NotifyModel(SQLModel, registry=registry()):
    """Base of the notify service's tables."""


METADATA = NotifyModel.metadata


class CompletedProbe(NotifyModel, table=True):
    """A pipeline probe that reached the end of the line."""

    __tablename__ = "completed_probe"

    probe_id: UUID = Field(primary_key=True)
    correlation_id: UUID
    hops: list[dict[str, Any]] = Field(sa_column=sa.Column(JSONType, nullable=False))
    completed_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
