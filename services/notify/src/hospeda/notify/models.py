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


class Person(NotifyModel, table=True):
    """Who a user is, as far as reaching them goes (from identity events)."""

    __tablename__ = "person"

    user_id: UUID = Field(primary_key=True)
    email: str = Field(max_length=254)
    name: str = Field(max_length=200)
    locale: str = Field(default="pt-BR", max_length=10)


class Membership(NotifyModel, table=True):
    """A person's role in a company (from identity events)."""

    __tablename__ = "membership"

    company_id: UUID = Field(primary_key=True)
    user_id: UUID = Field(primary_key=True)
    role: str = Field(max_length=20)


class Delivery(NotifyModel, table=True):
    """One notification handed to one address."""

    __tablename__ = "delivery"
    __table_args__ = (sa.UniqueConstraint("notification_id", "address"),)

    id: int | None = Field(default=None, primary_key=True)
    notification_id: UUID = Field(index=True)
    company_id: UUID | None = Field(default=None, index=True)
    channel: str = Field(max_length=20)
    template: str = Field(max_length=100)
    address: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    sent_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
