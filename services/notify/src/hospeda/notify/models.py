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
    """One notification on one channel to one address (an e-mail address, or
    for push the person's id): sent, held, skipped or failed, and why."""

    __tablename__ = "delivery"
    __table_args__ = (
        sa.UniqueConstraint(
            "notification_id", "channel", "address", name="uq_delivery_notification_channel_address"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    notification_id: UUID = Field(index=True)
    company_id: UUID | None = Field(default=None, index=True)
    user_id: UUID | None = Field(default=None)
    channel: str = Field(max_length=20)
    template: str = Field(max_length=100)
    address: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    status: str = Field(default="sent", max_length=20)
    reason: str | None = Field(default=None, max_length=500)
    sent_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))


class Company(NotifyModel, table=True):
    """A tenant's name, for the sender name of its e-mails (from identity events)."""

    __tablename__ = "company"

    company_id: UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    locale: str = Field(default="pt-BR", max_length=10)


class StaffMember(NotifyModel, table=True):
    """A Hospeda employee and their staff role (from identity events)."""

    __tablename__ = "staff_member"

    user_id: UUID = Field(primary_key=True)
    role: str = Field(max_length=20, index=True)


class PersonSettings(NotifyModel, table=True):
    """How a person wants to be reached, beside per-category preferences."""

    __tablename__ = "person_settings"

    user_id: UUID = Field(primary_key=True)
    time_zone: str = Field(default="America/Sao_Paulo", max_length=64)
    quiet_hours_start: str | None = Field(default=None, max_length=5)
    quiet_hours_end: str | None = Field(default=None, max_length=5)
    on_duty: bool = Field(default=True, description="Staff: operator alerts reach them.")


class Preference(NotifyModel, table=True):
    """A person's choice for one category on one channel (absent: the default)."""

    __tablename__ = "preference"

    user_id: UUID = Field(primary_key=True)
    category: str = Field(primary_key=True, max_length=20)
    channel: str = Field(primary_key=True, max_length=20)
    enabled: bool


class PushSubscription(NotifyModel, table=True):
    """One browser or device of a person that receives web pushes."""

    __tablename__ = "push_subscription"

    id: UUID = Field(primary_key=True)
    user_id: UUID = Field(index=True)
    endpoint: str = Field(max_length=2000, sa_column_kwargs={"unique": True})
    p256dh: str = Field(max_length=100)
    auth_secret: str = Field(max_length=50)
    user_agent: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    last_used_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime))
    expires_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime))


class InboxItem(NotifyModel, table=True):
    """A notification kept in a person's in-app inbox."""

    __tablename__ = "inbox_item"
    __table_args__ = (
        sa.UniqueConstraint("notification_id", "user_id"),
        sa.Index("ix_inbox_item_user_id_id", "user_id", "id"),
    )

    id: UUID = Field(primary_key=True)  # UUIDv7: ordered by creation
    user_id: UUID
    company_id: UUID | None = Field(default=None)
    notification_id: UUID
    template: str = Field(max_length=100)
    category: str = Field(max_length=20)
    title: str = Field(max_length=300)
    body: str = Field(max_length=2000)
    url: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    read_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime))
    archived_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime))


class AlertWindow(NotifyModel, table=True):
    """The pacing of one operator alert key: when its current window started,
    and what arrived since the notice (for the digest)."""

    __tablename__ = "alert_window"

    alert_key: str = Field(primary_key=True, max_length=200)
    started_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    suppressed: int = Field(default=0)
    samples: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(JSONType, nullable=False)
    )
