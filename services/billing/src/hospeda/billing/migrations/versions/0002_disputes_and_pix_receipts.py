"""disputes (Stripe chargebacks) and Pix receipts (API Pix settlement)

Revision ID: b7d2c4e9a1f3
Revises: 98e878731b19
Create Date: 2026-12-04 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import hospeda.runtime.types

revision: str = "b7d2c4e9a1f3"
down_revision: str | None = "98e878731b19"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, hospeda.runtime.types.UtcDateTime(timezone=True), nullable=nullable)


def _text(name: str, length: int, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "dispute",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        _text("currency", 3),
        _text("reason", 100),
        _text("status", 40),
        _time("evidence_due_at", nullable=True),
        _time("opened_at"),
        _time("closed_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_reference"),
    )
    with op.batch_alter_table("dispute", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dispute_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dispute_invoice_id"), ["invoice_id"], unique=False)
    op.create_table(
        "pix_receipt",
        _text("end_to_end_id", 64),
        _text("txid", 35, nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        _time("received_at"),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("company_id", sa.Uuid(), nullable=True),
        _text("outcome", 20),
        _text("note", 500),
        _time("recorded_at"),
        sa.PrimaryKeyConstraint("end_to_end_id"),
    )
    with op.batch_alter_table("pix_receipt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pix_receipt_txid"), ["txid"], unique=False)


def downgrade() -> None:
    op.drop_table("pix_receipt")
    op.drop_table("dispute")
