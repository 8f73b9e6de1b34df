"""The dns service's own tables (its database only; never sent over the wire)."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class DnsModel(SQLModel, registry=registry()):
    """Base of the dns service's tables."""


METADATA = DnsModel.metadata
