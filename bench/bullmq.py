"""BullMQ, measured in the same run as our job engine (the peer to compare with).

BullMQ is installed from the npm registry into a temporary folder (nothing is
kept in the repository) and runs the same no-op job, with the options of the
original design (attempts 5, exponential backoff from 5 s), on a redis-server
without persistence started for it. When node or npm is missing the figures
are skipped with a line that says so. ``compare`` then prints our job engine's
figures of the same run as ratios of BullMQ's.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

from bench.support import Report
from hospeda.devstack.servers import start_redis

BULLMQ = "bullmq@5"
SCRIPT = Path(__file__).parent / "node" / "bullmq_noop.js"
CASES = ((50, 50_000), (1, 20_000))  # (concurrency, jobs)
PAIRS = {
    # our scenario (its label ends with …) → BullMQ's at the same concurrency
    "1 process, concurrency 50 + prefetch 50": 50,
    "1 process, concurrency 50": 50,
    "1 process, concurrency 1 + prefetch 49": 1,
    "1 process, concurrency 1": 1,
}


def _label(concurrency: int) -> str:
    return f"BullMQ no-op jobs, 1 worker, concurrency {concurrency} (attempts 5, backoff 5 s)"


async def bullmq(report: Report, admin_url: str | None, tmp: Path) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        print("  bullmq         skipped: node and npm are needed to install and run BullMQ")
        return
    folder = tmp / "bullmq"
    folder.mkdir(exist_ok=True)
    installed = await asyncio.to_thread(
        subprocess.run,
        [npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(folder), BULLMQ],
        capture_output=True,
        text=True,
    )
    if installed.returncode != 0:
        print(
            f"  bullmq         skipped: npm could not install {BULLMQ}: {installed.stderr[-300:]}"
        )
        return
    redis = await asyncio.to_thread(start_redis, workdir=tmp / "bullmq-redis")
    port = redis.url.rsplit(":", 1)[1].split("/")[0]
    env = {**os.environ, "NODE_PATH": str(folder / "node_modules")}
    try:
        for concurrency, count in CASES:
            done = await asyncio.to_thread(
                subprocess.run,
                [node, str(SCRIPT), port, str(count), str(concurrency)],
                capture_output=True,
                text=True,
                env=env,
                timeout=900,
            )
            if done.returncode != 0:
                print(f"  bullmq         failed at concurrency {concurrency}: {done.stderr[-300:]}")
                continue
            jobs, seconds = done.stdout.split()
            report.add("jobs", _label(concurrency), int(jobs) / float(seconds), "jobs/s")
    finally:
        redis.stop()


def compare(report: Report) -> None:
    """Our job engine's figures of this run as a ratio of BullMQ's."""
    peers = {
        concurrency: row["value"]
        for row in report.rows
        for concurrency in (50, 1)
        if row["scenario"] == _label(concurrency)
    }
    for row in list(report.rows):
        if row["area"] != "jobs" or row["scenario"].startswith("BullMQ"):
            continue
        for suffix, concurrency in PAIRS.items():
            if row["scenario"].endswith(suffix) and concurrency in peers:
                report.add(
                    "jobs",
                    f"ours ÷ BullMQ: {suffix}",
                    row["value"] / peers[concurrency],
                    "x",
                )
                break
