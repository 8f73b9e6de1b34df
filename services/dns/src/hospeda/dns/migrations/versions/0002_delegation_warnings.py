"""delegation warnings: what a check found worth fixing though resolution works

Revision ID: d2a6e1f4c0b2
Revises: 75c09546c864
Create Date: 2026-12-03 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hospeda.runtime.types

revision: str = "d2a6e1f4c0b2"
down_revision: str | None = "75c09546c864"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "dns_zone",
        sa.Column(
            "delegation_warnings",
            hospeda.runtime.types.JSONType,
            nullable=False,
            server_default=sa.text("'[]'"),
        ),
    )


def downgrade() -> None:
    op.drop_column("dns_zone", "delegation_warnings")
