"""The gateway service's own tables (its database only; never sent over the wire)."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class GatewayModel(SQLModel, registry=registry()):
    """Base of the gateway service's tables."""


METADATA = GatewayModel.metadata
