"""A job worker in its own process, for the multi-process tests.

    python job_worker.py <database_url> <mode> [seconds]

mode ``record``: every ``record`` job writes one execution row; the process
exits once no job is left to run. mode ``slow``: runs ``slow`` jobs that take
``seconds`` (used to kill a worker in the middle of a job).
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rtkit import job_engine_for_tests

from hospeda.runtime.db import Database
from hospeda.runtime.jobs import JobState


async def main(database_url: str, mode: str, seconds: float) -> None:
    db = Database(database_url)
    engine = job_engine_for_tests(db, worker_label=f"pid-{os.getpid()}", slow_seconds=seconds)
    worker = engine.worker(
        concurrency=20 if mode == "record" else 1, lease=timedelta(seconds=1.5), poll_interval=0.02
    )
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # start together with the other worker
    worker.start()
    if mode == "record":
        idle = 0
        while idle < 20:
            await asyncio.sleep(0.05)
            async with db.transaction() as session:
                counts = await engine.counts(session)
            left = sum(
                n
                for state, n in counts.get("test", {}).items()
                if state in (JobState.QUEUED, JobState.RUNNING)
            )
            idle = idle + 1 if left == 0 else 0
        await worker.stop()
    else:
        await asyncio.sleep(3600)
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 0.0))
