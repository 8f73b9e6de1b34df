"""The outbox relay survives being killed in the middle of a batch."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from rtkit import audit_message, audit_router, create_effects, effects, make_settings

from hospeda.contracts.topics import AUDIT_RECORDS
from hospeda.devstack.testing import eventually
from hospeda.runtime import outbox
from hospeda.runtime.db import Database
from hospeda.runtime.migrate import upgrade
from hospeda.runtime.models import OutboxMessage
from hospeda.runtime.service import ServiceRuntime

CRASHING_RELAY = Path(__file__).parent / "procs" / "crashing_relay.py"


async def test_a_relay_killed_mid_batch_loses_nothing_and_doubles_no_effect(
    database_url: str, kafka_bootstrap: str
) -> None:
    db = Database(database_url)
    await upgrade(db)
    await create_effects(db)
    sent = [audit_message(f"m.{i}") for i in range(3000)]
    async with db.transaction() as session:
        for i, message in enumerate(sent):
            outbox.add(session, message, topic=AUDIT_RECORDS, key=f"company-{i % 7}")
    await db.dispose()

    crash = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(CRASHING_RELAY), database_url, kafka_bootstrap, "1500"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert crash.returncode == 9, crash.stdout + crash.stderr

    runtime = ServiceRuntime(make_settings(database_url, kafka_bootstrap), router=audit_router())
    async with runtime.db.transaction() as session:
        left = (
            await session.execute(sa.select(sa.func.count()).select_from(OutboxMessage))
        ).scalar_one()
    assert left == 2000  # batches 1 and 2 deleted; batch 3 published but not deleted
    await runtime.start()
    try:

        async def all_applied() -> bool:
            return len(await effects(runtime.db)) >= len(sent)

        await eventually(all_applied, timeout=30, message="3000 effects")
        await asyncio.sleep(0.5)  # give any duplicate time to (not) show up
        applied = await effects(runtime.db)
    finally:
        await runtime.stop()
    assert Counter(e.message_id for e in applied) == Counter(m.id for m in sent)
    assert runtime.consumer.duplicates >= 500  # batch 3 went out twice; the inbox absorbed it
