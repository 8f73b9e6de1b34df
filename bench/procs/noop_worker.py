"""A job worker process for the benchmark: runs no-op jobs until none are left.

python noop_worker.py <database_url> <concurrency> <prefetch> <events:0|1>
"""

from __future__ import annotations

import asyncio
import sys

from hospeda.contracts.topics import job_topic
from hospeda.runtime.db import Database
from hospeda.runtime.jobs import JobContext, JobEngine


def engine_for(db: Database, *, emit_events: bool) -> JobEngine:
    engine = JobEngine(
        db, service="bench", job_topic=job_topic("provisioning"), emit_events=emit_events
    )

    @engine.kind("noop", queue="bench")
    async def noop(ctx: JobContext) -> None:
        return None

    return engine


async def main(database_url: str, concurrency: int, prefetch: int, emit_events: bool) -> None:
    db = Database(database_url, pool_size=4)
    engine = engine_for(db, emit_events=emit_events)
    worker = engine.worker(concurrency=concurrency, prefetch=prefetch, poll_interval=0.01)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # the benchmark says go
    worker.start()
    idle = 0
    while idle < 5:
        await asyncio.sleep(0.02)
        async with db.transaction() as session:
            busy = await engine.has_unfinished(session, "bench")
        idle = 0 if busy else idle + 1
    await worker.stop()
    print(f"done {worker.completed}", flush=True)
    await db.dispose()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"))
