"""The trail's last line of defence in production: the database role the audit
service writes with may append entries and read them, never change or remove
one. (Triggers refuse it too; the grants make it true even without them.)"""

from __future__ import annotations

from hospeda.audit import repository
from hospeda.audit.models import APPEND_ONLY_TABLES
from hospeda.runtime.db import Database
from hospeda.runtime.settings import Environment, InsecureSettings, ServiceSettings

__all__ = [
    "APPEND_ONLY_TABLES",
    "changes_the_role_may_make",
    "refuse_a_role_that_can_rewrite_the_trail",
]


async def changes_the_role_may_make(db: Database) -> list[str]:
    """What this connection's role could do to the append-only tables beyond
    INSERT and SELECT (``"UPDATE audit_entry"`` …); SQLite has no roles."""
    if not db.is_postgres:
        return []
    async with db.read() as connection:
        return (await repository.protection(connection)).may_change


async def refuse_a_role_that_can_rewrite_the_trail(db: Database, settings: ServiceSettings) -> None:
    """At start-up in production: stop unless the role is the INSERT/SELECT
    writer (deploy/postgres: `hospeda_audit`, not the schema's owner)."""
    if settings.environment is not Environment.PRODUCTION:
        return
    changes = await changes_the_role_may_make(db)
    if changes:
        raise InsecureSettings(
            "refusing to start in production: the DATABASE_URL role may "
            f"{', '.join(changes)}; use the audit writer role (INSERT and SELECT only)"
        )
