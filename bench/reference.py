"""The ceiling of the day: how many single-row commits per second this
machine's PostgreSQL does right now (asyncpg, 8 connections), measured in
the same run as the figures that depend on it (outbox, jobs, webhooks)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from bench.support import Report, fresh_database

CONNECTIONS = 8
SECONDS = 5.0


async def postgres_commits(report: Report, admin_url: str | None, tmp: Path) -> None:
    if admin_url is None:
        print("  reference      skipped: no PostgreSQL")
        return
    async with fresh_database(admin_url, tmp, "reference") as url:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        setup = await asyncpg.connect(dsn)
        await setup.execute("CREATE TABLE commit_probe (id bigserial PRIMARY KEY, at timestamptz)")
        await setup.close()
        commits = 0
        stop_at = time.perf_counter() + SECONDS

        async def writer() -> None:
            nonlocal commits
            conn = await asyncpg.connect(dsn)
            try:
                while time.perf_counter() < stop_at:
                    await conn.execute("INSERT INTO commit_probe (at) VALUES (now())")
                    commits += 1  # autocommit: one INSERT, one commit
            finally:
                await conn.close()

        started = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(CONNECTIONS)))
        rate = commits / (time.perf_counter() - started)
        report.add(
            "reference",
            f"PostgreSQL single-row commits, {CONNECTIONS} connections",
            rate,
            "commits/s",
        )
