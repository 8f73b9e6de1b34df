"""TOTP secrets encrypted at rest

Revision ID: 3f0c2a7d9b14
Revises: 8cbad78d459b
Create Date: 2026-11-29 04:50:00
"""

from collections.abc import Sequence

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
    # seal the secrets stored in the clear before this revision
    box = SecretBox(GatewaySettings().totp_key, setting="GATEWAY_TOTP_KEY")
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, totp_secret FROM user_account WHERE totp_secret IS NOT NULL")
    ).all()
    for user_id, secret in rows:
        conn.execute(
            sa.text("UPDATE user_account SET totp_secret = :sealed WHERE id = :id"),
            {"sealed": box.seal(secret), "id": user_id},
        )


def downgrade() -> None:
    box = SecretBox(GatewaySettings().totp_key, setting="GATEWAY_TOTP_KEY")
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, totp_secret FROM user_account WHERE totp_secret IS NOT NULL")
    ).all()
    for user_id, sealed in rows:
        conn.execute(
            sa.text("UPDATE user_account SET totp_secret = :secret WHERE id = :id"),
            {"secret": box.open(sealed), "id": user_id},
        )
    with op.batch_alter_table("user_account") as batch:
        batch.alter_column(
            "totp_secret",
            type_=sqlmodel.sql.sqltypes.AutoString(length=64),
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=255),
            existing_nullable=True,
        )
