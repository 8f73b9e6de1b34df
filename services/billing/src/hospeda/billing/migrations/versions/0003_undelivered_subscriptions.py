"""subscriptions that provisioning could not deliver: since when; one paid plan per domain;
add-on families (the tiers that change into each other)

Revision ID: c41f7a2d9e60
Revises: b7d2c4e9a1f3
Create Date: 2026-12-06 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import hospeda.runtime.types

revision: str = "c41f7a2d9e60"
down_revision: str | None = "b7d2c4e9a1f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


HELD = "kind = 'plan' AND status IN ('active', 'suspended', 'provisioning_failed')"


def upgrade() -> None:
    op.add_column(
        "product",
        sa.Column("family", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    op.create_index(
        "ix_subscription_domain_held",
        "subscription",
        ["domain"],
        unique=True,
        postgresql_where=sa.text(HELD),
        sqlite_where=sa.text(HELD),
    )
    op.add_column(
        "subscription",
        sa.Column(
            "undelivered_since", hospeda.runtime.types.UtcDateTime(timezone=True), nullable=True
        ),
    )


def downgrade() -> None:
    op.drop_column("subscription", "undelivered_since")
    op.drop_index("ix_subscription_domain_held", table_name="subscription")
    op.drop_column("product", "family")
