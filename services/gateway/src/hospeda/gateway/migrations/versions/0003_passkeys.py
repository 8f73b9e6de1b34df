"""passkeys (WebAuthn credentials)

Revision ID: 5b7e1c9a2d40
Revises: 3f0c2a7d9b14
Create Date: 2026-12-03 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import hospeda.runtime.types

revision: str = "5b7e1c9a2d40"
down_revision: str | None = "3f0c2a7d9b14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "passkey",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("credential_id", sqlmodel.sql.sqltypes.AutoString(length=1400), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("aaguid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("backed_up", sa.Boolean(), nullable=False),
        sa.Column("transports", hospeda.runtime.types.JSONType, nullable=False),
        sa.Column("created_at", hospeda.runtime.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", hospeda.runtime.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credential_id"),
    )
    with op.batch_alter_table("passkey") as batch:
        batch.create_index(batch.f("ix_passkey_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("passkey") as batch:
        batch.drop_index(batch.f("ix_passkey_user_id"))
    op.drop_table("passkey")
