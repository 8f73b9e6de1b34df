"""The provisioning service's own tables (its database only; never sent over the wire)."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class ProvisioningModel(SQLModel, registry=registry()):
    """Base of the provisioning service's tables."""


METADATA = ProvisioningModel.metadata
