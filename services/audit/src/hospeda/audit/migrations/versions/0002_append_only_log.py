"""append-only log: Merkle leaves, checkpoints, subjects; the first version's
table kept aside as ``audit_entry_v1`` until the service re-records it

Revision ID: 0002
Revises: 4386b10e9fb2
Create Date: 2026-12-03 15:46:18
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import hospeda.runtime.types

revision: str = "0002"
down_revision: str | None = "4386b10e9fb2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("audit_entry", "audit_entry_subject", "audit_checkpoint")

POSTGRES_REFUSE = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$
"""


def _append_only(table: str) -> list[str]:
    if op.get_bind().dialect.name == "postgresql":
        # ENABLE ALWAYS: the triggers fire with session_replication_role = replica too
        return [
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
            f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_append_only",
            f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_truncate",
        ]
    # SQLite has no TRUNCATE: its DELETE-everything shortcut is off while a trigger exists
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN "
        f"SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE on {table} refused'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} BEGIN "
        f"SELECT RAISE(ABORT, 'the audit log is append-only: DELETE on {table} refused'); END",
    ]


def upgrade() -> None:
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_correlation_id")
        batch_op.drop_index("ix_audit_entry_chain_seq")
    op.rename_table("audit_entry", "audit_entry_v1")
    op.execute("DELETE FROM audit_chain_head")  # the chains are recomputed from v1

    op.create_table(
        "audit_entry",
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("v", sa.SmallInteger(), nullable=False),
        sa.Column("chain", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=True),
        sa.Column("occurred_at", hospeda.runtime.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", hospeda.runtime.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("actor_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("entity", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("entity_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("ip", sa.Text(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("correlation_id", sa.Uuid(), nullable=False),
        sa.Column("causation_id", sa.Uuid(), nullable=True),
        sa.Column("trace_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("migrated_from", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index"),
        sa.UniqueConstraint("id"),
        sa.UniqueConstraint("message_id"),
        sa.UniqueConstraint("chain", "seq", name="uq_audit_entry_chain_seq"),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entry_chain_actor", ["chain", "actor_id"], unique=False)
        batch_op.create_index(
            "ix_audit_entry_chain_entity", ["chain", "entity", "entity_id"], unique=False
        )
        batch_op.create_index("ix_audit_entry_chain_leaf", ["chain", "leaf_index"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_entry_correlation_id"), ["correlation_id"], unique=False
        )
    op.create_table(
        "audit_entry_subject",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", "leaf_index"),
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("issued_at", hospeda.runtime.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("public_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("signature", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("number"),
    )
    op.create_table(
        "audit_log_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.Text(), nullable=False),
        sa.Column("alias_secret", sa.Text(), nullable=False),
        sa.Column("checkpoints", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "audit_subject",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", hospeda.runtime.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("erased_at", hospeda.runtime.types.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "audit_subject_alias",
        sa.Column("alias", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", hospeda.runtime.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("alias", "subject_id"),
    )
    op.create_table(
        "audit_subject_key",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", hospeda.runtime.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", "category", "period"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_REFUSE)
    for table in APPEND_ONLY:
        for statement in _append_only(table):
            op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("the audit log is append-only: there is no way back")
