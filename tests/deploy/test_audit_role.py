"""The audit writer role on real PostgreSQL, set up by the same SQL the deploy
runs (deploy/postgres: init.sh's audit part, then audit-grants.sql after the
migrations): it appends to the trail and reads it, never changes or removes
an entry; the audit service refuses to start in production as any role that
could (its owner, say)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from hospeda.audit.config import AuditSettings
from hospeda.audit.grants import (
    changes_the_role_may_make,
    refuse_a_role_that_can_rewrite_the_trail,
)
from hospeda.devstack.deploy import postgres
from hospeda.runtime.db import Database
from hospeda.runtime.migrate import service_migrations, upgrade
from hospeda.runtime.settings import Environment, InsecureSettings

ADMIN_URL = os.environ.get("TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(
    not ADMIN_URL, reason="roles and grants need PostgreSQL (TEST_DATABASE_URL)"
)


@dataclass(frozen=True)
class AuditDatabase:
    owner_url: str
    writer_url: str


def _url(database: str, role: str | None = None, password: str | None = None) -> str:
    url = make_url(ADMIN_URL or "")
    if role is not None:
        url = url.set(username=role, password=password)
    return url.set(database=database).render_as_string(hide_password=False)


async def run_psql_script(
    lines: list[str], *, database: str, role: str | None = None, password: str | None = None
) -> None:
    """Run SQL written for psql: statements end with ';', `\\connect` switches database."""
    connection = await asyncpg.connect(_url(database, role, password))
    statement: list[str] = []
    try:
        for line in lines:
            if line.startswith("\\connect "):
                await connection.close()
                connection = await asyncpg.connect(_url(line.split()[1], role, password))
            elif line and not line.startswith("--"):
                statement.append(line)
                if line.rstrip().endswith(";"):
                    await connection.execute("\n".join(statement))
                    statement = []
    finally:
        await connection.close()


@pytest.fixture
async def audit_database() -> AsyncIterator[AuditDatabase]:
    suffix = secrets.token_hex(4)
    owner, writer, database = f"t_audit_owner_{suffix}", f"t_audit_{suffix}", f"t_audit_{suffix}"
    owner_pw, writer_pw = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    admin_db = make_url(ADMIN_URL or "").database or "postgres"
    lines = postgres.audit_roles(
        owner_password=f"'{owner_pw}'",
        writer_password=f"'{writer_pw}'",
        owner=owner,
        writer=writer,
        database=database,
    )
    await run_psql_script(
        [line.replace("\\connect postgres", f"\\connect {admin_db}") for line in lines],
        database=admin_db,
    )
    try:
        yield AuditDatabase(_url(database, owner, owner_pw), _url(database, writer, writer_pw))
    finally:
        admin = await asyncpg.connect(_url(admin_db))
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            await admin.execute(f"DROP ROLE IF EXISTS {writer}")
            await admin.execute(f"DROP ROLE IF EXISTS {owner}")
        finally:
            await admin.close()


def production() -> AuditSettings:
    return AuditSettings.model_construct(environment=Environment.PRODUCTION)


async def test_the_writer_appends_and_reads_but_never_rewrites_the_trail(
    audit_database: AuditDatabase,
) -> None:
    owner = Database(audit_database.owner_url)
    writer = Database(audit_database.writer_url)
    try:
        await upgrade(owner, service_migrations("audit"))  # the migration job, as the owner
        grants = postgres.audit_grants(writer=make_url(audit_database.writer_url).username or "")
        database = make_url(audit_database.owner_url)
        await run_psql_script(
            grants.splitlines(),
            database=database.database or "",
            role=database.username,
            password=database.password,
        )

        assert await changes_the_role_may_make(writer) == []
        await refuse_a_role_that_can_rewrite_the_trail(writer, production())  # starts
        async with writer.engine.begin() as connection:
            await connection.execute(sa.text("SELECT count(*) FROM audit_entry"))
            await connection.execute(
                sa.text("UPDATE job SET attempts = attempts")
            )  # its own plumbing
        for change in (
            "UPDATE audit_entry SET action = 'forged'",
            "DELETE FROM audit_entry",
            "TRUNCATE audit_entry",
        ):
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                async with writer.engine.begin() as connection:
                    await connection.execute(sa.text(change))

        assert "UPDATE audit_entry" in await changes_the_role_may_make(owner)
        with pytest.raises(InsecureSettings, match="may UPDATE audit_entry"):
            await refuse_a_role_that_can_rewrite_the_trail(owner, production())
        await refuse_a_role_that_can_rewrite_the_trail(
            owner, AuditSettings.model_construct(environment=Environment.TEST)
        )
    finally:
        await owner.dispose()
        await writer.dispose()
