"""TOTP secrets encrypted at rest

Revision ID: 3f0c2a7d9b14
Revises: 8cbad78d459b
Create Date: 2026-11-29 04:50:00
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from hospeda.gateway.config import GatewaySettings
from hospeda.runtime.sealing import SecretBox

revision: str = "3f0c2a7d9b14"
down_revision: str | None = "8cbad78d459b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.alter_column(
            "totp_secret",
            type_=sqlmodel.sql.sqltypes.AutoString(length=255),
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
            existing_nullable=True,
        )
    _rewrite_secrets(_box().seal)  # seal the secrets stored in the clear before this revision


def downgrade() -> None:
    _rewrite_secrets(_box().open)
    with op.batch_alter_table("user_account") as batch:
        batch.alter_column(
            "totp_secret",
            type_=sqlmodel.sql.sqltypes.AutoString(length=64),
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=255),
            existing_nullable=True,
        )


def _box() -> SecretBox:
    return SecretBox(GatewaySettings().totp_key, setting="GATEWAY_TOTP_KEY")


def _rewrite_secrets(transform: Callable[[str], str]) -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, totp_secret FROM user_account WHERE totp_secret IS NOT NULL")
    ).all()
    for user_id, value in rows:
        conn.execute(
            sa.text("UPDATE user_account SET totp_secret = :value WHERE id = :id"),
            {"value": transform(value), "id": user_id},
        )
