"""The dns service's own tables (its database only; never sent over the wire)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from hospeda.runtime.types import JSONType, UtcDateTime


class DnsModel(SQLModel, registry=registry()):
    """Base of the dns service's tables."""


METADATA = DnsModel.metadata


class Zone(DnsModel, table=True):
    """A customer's domain: its zone at the provider and its delegation."""

    __tablename__ = "dns_zone"
    __table_args__ = (sa.Index("ix_dns_zone_company_domain", "company_id", "domain"),)

    id: int | None = Field(default=None, primary_key=True)
    domain: str = Field(max_length=253, sa_column_kwargs={"unique": True})
    company_id: UUID | None = Field(default=None)
    service_id: UUID | None = Field(default=None, index=True)
    server_ip: str | None = Field(default=None, max_length=45)
    status: str = Field(max_length=20, description="creating | active | deleting | deleted")
    provider_zone_id: str | None = Field(default=None, max_length=64)
    assigned_nameservers: list[str] = Field(
        default_factory=list, sa_column=sa.Column(JSONType, nullable=False)
    )
    expected_nameservers: list[str] = Field(
        default_factory=list, sa_column=sa.Column(JSONType, nullable=False)
    )
    delegation: str = Field(max_length=20, description="see domain.DelegationStatus")
    delegation_started_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime))
    delegation_deadline: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime))
    delegation_checked_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime))
    delegation_verified_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime))
    delegation_found: list[str] = Field(
        default_factory=list, sa_column=sa.Column(JSONType, nullable=False)
    )
    delegation_problems: list[str] = Field(
        default_factory=list, sa_column=sa.Column(JSONType, nullable=False)
    )
    delegation_warnings: list[str] = Field(
        default_factory=list,
        sa_column=sa.Column(JSONType, nullable=False, server_default=sa.text("'[]'")),
    )
    next_recheck_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UtcDateTime, index=True)
    )
    created_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))


class Record(DnsModel, table=True):
    """Our copy of a record at the provider (what customers list and what
    validation checks conflicts against)."""

    __tablename__ = "dns_record"

    id: int | None = Field(default=None, primary_key=True)
    domain: str = Field(max_length=253, index=True)
    record_id: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    type: str = Field(max_length=10)
    name: str = Field(max_length=253)
    content: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    ttl: int
    priority: int | None = None
    proxied: bool = False
    created_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
