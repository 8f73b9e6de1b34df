"""The trail's last line of defence in production: the database role the audit
service writes with may append entries and read them, never change or remove
one. (Triggers refuse it too; the grants make it true even without them.)"""

from __future__ import annotations

import sqlalchemy as sa

from hospeda.audit.models import AuditEntry
from hospeda.runtime.db import Database
from hospeda.runtime.settings import Environment, InsecureSettings, ServiceSettings

APPEND_ONLY_TABLES: tuple[str, ...] = (AuditEntry.__tablename__,)
"""Tables whose rows, once written, stay as they are."""

_CHANGES = ("UPDATE", "DELETE", "TRUNCATE")


async def tables_the_role_can_rewrite(db: Database) -> list[str]:
    """The append-only tables that this connection's role could UPDATE, DELETE
    or TRUNCATE (its owner always can). SQLite has no roles: nothing to say."""
    if not db.is_postgres:
        return []
    checks = " OR ".join(f"has_table_privilege(current_user, t, '{p}')" for p in _CHANGES)
    query = sa.text(
        f"SELECT t FROM unnest(CAST(:tables AS text[])) AS t WHERE {checks} ORDER BY t"  # noqa: S608 - fixed names
    )
    async with db.reader.connect() as connection:
        result = await connection.execute(query, {"tables": list(APPEND_ONLY_TABLES)})
        return [row[0] for row in result]


async def refuse_a_role_that_can_rewrite_the_trail(db: Database, settings: ServiceSettings) -> None:
    """At start-up in production: stop unless the role is the INSERT/SELECT
    writer (deploy/postgres: `hospeda_audit`, not the schema's owner)."""
    if settings.environment is not Environment.PRODUCTION:
        return
    tables = await tables_the_role_can_rewrite(db)
    if tables:
        raise InsecureSettings(
            "refusing to start in production: the DATABASE_URL role can UPDATE or DELETE "
            f"{', '.join(tables)}; use the audit writer role (INSERT and SELECT only)"
        )
