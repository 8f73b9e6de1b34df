"""The provisioning service's own tables (its database only; never sent over the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from hospeda.runtime.types import BigIntPK, JSONType, UtcDateTime


class ProvisioningModel(SQLModel, registry=registry()):
    """Base of the provisioning service's tables."""


METADATA = ProvisioningModel.metadata


class WhmServer(ProvisioningModel, table=True):
    """A WHM server of the inventory. The API token is stored encrypted."""

    __tablename__ = "whm_server"

    name: str = Field(primary_key=True, max_length=63)
    url: str = Field(max_length=500)
    api_user: str = Field(max_length=100)
    token_ciphertext: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    max_accounts: int
    concurrency: int
    packages: list[str] = Field(default_factory=list, sa_column=sa.Column(JSONType, nullable=False))
    verify_tls: bool = True
    active: bool = True
    created_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))


class HostedService(ProvisioningModel, table=True):
    """One hosting service: a cPanel account on one WHM server."""

    __tablename__ = "hosted_service"
    __table_args__ = (
        sa.Index("ix_hosted_service_company", "company_id", "seq"),
        sa.Index("ix_hosted_service_server_state", "server", "state"),
        sa.UniqueConstraint("server", "username", name="uq_hosted_service_server_username"),
    )

    seq: int | None = Field(
        default=None, sa_column=sa.Column(BigIntPK, primary_key=True, autoincrement=True)
    )
    service_id: UUID = Field(sa_column=sa.Column(sa.Uuid, nullable=False, unique=True))
    company_id: UUID | None = None
    subscription_id: UUID | None = None
    domain: str = Field(max_length=253, index=True)
    plan_code: str = Field(max_length=64)
    whm_package: str = Field(max_length=64)
    contact_email: str = Field(max_length=254)
    server: str | None = Field(default=None, max_length=63)
    username: str | None = Field(default=None, max_length=16)
    ip: str | None = Field(default=None, max_length=45)
    state: str = Field(max_length=20)
    suspend_reason: str | None = Field(default=None, max_length=500)
    last_job_id: UUID | None = None
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    created_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
    activated_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime))
    terminated_at: datetime | None = Field(default=None, sa_column=sa.Column(UtcDateTime))


class ServiceAddon(ProvisioningModel, table=True):
    """An add-on of a service, on or off, with what its provisioner set up."""

    __tablename__ = "service_addon"

    service_id: UUID = Field(primary_key=True)
    code: str = Field(primary_key=True, max_length=64)
    state: str = Field(max_length=20)
    subscription_id: UUID | None = None
    details: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(JSONType, nullable=False)
    )
    updated_at: datetime = Field(sa_column=sa.Column(UtcDateTime, nullable=False))
