"""Schema migrations (Alembic), run by each service at start-up.

Every service database holds two migration histories: the runtime's tables
(outbox, inbox, jobs; version table ``alembic_version_runtime``) and the
service's own (``alembic_version``). Each lives in a ``migrations`` folder
inside its package.

    python -m hospeda.runtime.migrate revision <package> -m "what changed"

autogenerates a new revision for ``hospeda.runtime`` or ``hospeda.<service>``.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from hospeda.runtime.db import Database, stable_lock_key

RUNTIME_VERSION_TABLE = "alembic_version_runtime"


@dataclass(frozen=True)
class MigrationSet:
    """One migration history: where its scripts are, its version table, and
    the metadata autogenerate compares with."""

    package: str
    version_table: str

    @property
    def script_location(self) -> Path:
        return Path(str(resources.files(self.package) / "migrations"))

    def config(self, url: str | None = None) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(self.script_location))
        cfg.set_main_option("version_table", self.version_table)
        if url:
            cfg.set_main_option("sqlalchemy.url", url)
        return cfg


RUNTIME = MigrationSet("hospeda.runtime", RUNTIME_VERSION_TABLE)


def service_migrations(service: str) -> MigrationSet:
    return MigrationSet(f"hospeda.{service}", "alembic_version")


def run_env(metadata: sa.MetaData) -> None:
    """The body of every ``migrations/env.py``: migrate ``metadata``'s tables
    only, on the connection handed over by ``upgrade`` (or the configured URL)."""
    from alembic import context

    config = context.config
    version_table = config.get_main_option("version_table") or "alembic_version"
    tables = set(metadata.tables)

    def include_name(name: str | None, type_: str, _parent: Any) -> bool:
        return type_ != "table" or name in tables

    def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
        if type_ == "type" and isinstance(obj, sa.JSON):
            autogen_context.imports.add("import hospeda.runtime.types")
            return "hospeda.runtime.types.JSONType"
        return False

    options: dict[str, Any] = {
        "target_metadata": metadata,
        "render_item": render_item,
        "version_table": version_table,
        "include_name": include_name,
        "compare_type": True,
        "render_as_batch": True,
    }
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.begin() as conn:
        context.configure(connection=conn, **options)
        with context.begin_transaction():
            context.run_migrations()


async def upgrade(db: Database, *sets: MigrationSet) -> None:
    """Bring the database to the latest schema (runtime first). Safe to run
    from several processes at once: PostgreSQL serialises them."""

    def run(connection: sa.Connection) -> None:
        if db.is_postgres:
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": stable_lock_key("migrations")}
            )
        for migration_set in (RUNTIME, *sets):
            cfg = migration_set.config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")

    async with db.engine.begin() as connection:
        await connection.run_sync(run)


def _revision(package: str, message: str) -> None:
    migration_set = (
        RUNTIME if package == "hospeda.runtime" else MigrationSet(package, "alembic_version")
    )
    importlib.import_module(f"{package}.models")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/autogenerate.db"
        cfg = migration_set.config(url)
        if migration_set is not RUNTIME:
            command.upgrade(RUNTIME.config(url), "head")
        command.upgrade(cfg, "head")
        # one revision template for every service: lend the runtime's for the occasion
        template = migration_set.script_location / "script.py.mako"
        borrowed = not template.exists()
        if borrowed:
            shutil.copy(RUNTIME.script_location / "script.py.mako", template)
        try:
            command.revision(cfg, message=message, autogenerate=True)
        finally:
            if borrowed:
                template.unlink()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m hospeda.runtime.migrate")
    sub = parser.add_subparsers(dest="command", required=True)
    revision = sub.add_parser("revision", help="autogenerate a revision from the models")
    revision.add_argument("package", help="hospeda.runtime or hospeda.<service>")
    revision.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)
    if args.command == "revision":
        _revision(args.package, args.message)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
