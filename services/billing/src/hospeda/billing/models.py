"""The billing service's own tables (its database only; never sent over the wire)."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class BillingModel(SQLModel, registry=registry()):
    """Base of the billing service's tables."""


METADATA = BillingModel.metadata
