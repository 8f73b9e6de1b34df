"""Pix received through the PSP: what was given back (a ``devolucao``) and its status

Revision ID: d5a8e3b1c702
Revises: c41f7a2d9e60
Create Date: 2026-12-07 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "d5a8e3b1c702"
down_revision: str | None = "c41f7a2d9e60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pix_receipt", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("return_id", sqlmodel.sql.sqltypes.AutoString(length=35), nullable=True)
        )
        batch_op.add_column(
            sa.Column("return_amount", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column(
                "return_status",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default="",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("pix_receipt", schema=None) as batch_op:
        batch_op.drop_column("return_status")
        batch_op.drop_column("return_amount")
        batch_op.drop_column("return_id")
