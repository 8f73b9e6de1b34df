"""What the deploy relies on from the runtime: `migrate` alone (the migration
job), no migration or topic creation at start where the deploy does them, and
the heartbeat the health checks read."""

from __future__ import annotations

import os
import time
from pathlib import Path

import sqlalchemy as sa
from rtkit import audit_router, make_settings

from hospeda.devstack.testing import eventually
from hospeda.runtime import heartbeat
from hospeda.runtime.service import ServiceRuntime


async def tables(runtime: ServiceRuntime) -> set[str]:
    async with runtime.db.engine.connect() as connection:
        return set(await connection.run_sync(lambda c: sa.inspect(c).get_table_names()))


async def test_migrate_brings_the_schema_up_to_date_and_nothing_else(database_url: str) -> None:
    runtime = ServiceRuntime(
        make_settings(database_url, "127.0.0.1:1"), router=audit_router()
    )  # no broker there: migrate must not need one
    await runtime.migrate()
    assert {"outbox_message", "inbox_message", "job"} <= await tables(runtime)
    await runtime.db.dispose()


async def test_a_service_can_leave_migrations_and_topics_to_the_deploy(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = make_settings(
        database_url, kafka_bootstrap, HOSPEDA_MIGRATE_ON_START=False, HOSPEDA_CREATE_TOPICS=False
    )
    runtime = ServiceRuntime(settings, router=audit_router())
    await runtime.start()
    try:
        assert "outbox_message" not in await tables(runtime)
    finally:
        await runtime.stop()


async def test_the_heartbeat_is_fresh_while_the_service_runs(
    database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    beat = tmp_path / "run" / "hospeda.heartbeat"
    assert heartbeat.main([str(beat)]) == 1  # nothing yet
    runtime = ServiceRuntime(
        make_settings(database_url, kafka_bootstrap, HOSPEDA_HEARTBEAT_FILE=str(beat)),
        router=audit_router(),
    )
    await runtime.start()
    try:

        async def alive() -> bool:
            return heartbeat.main([str(beat), "--max-age", "30"]) == 0

        await eventually(alive, message="a fresh heartbeat")
    finally:
        await runtime.stop()
    an_hour_ago = time.time() - 3600
    os.utime(beat, (an_hour_ago, an_hour_ago))  # what a wedged or stopped service leaves
    assert heartbeat.main([str(beat), "--max-age", "30"]) == 1
