"""``python -m bench``: run every benchmark and save the figures."""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from pathlib import Path

from bench import (
    audit,
    billing,
    bullmq,
    dns,
    foundation,
    gateway,
    notify,
    pipeline,
    provisioning,
    reference,
)
from bench.support import Report, postgres_admin_url


async def main(only: set[str]) -> None:
    logging.basicConfig(level=logging.WARNING)
    admin_url = await postgres_admin_url()
    print(
        f"database: {'PostgreSQL' if admin_url else 'SQLite (no PostgreSQL answered)'}", flush=True
    )
    report = Report()
    scenarios = {
        "reference": reference.postgres_commits,  # the day's ceiling, always measured
        "outbox": foundation.outbox_to_inbox,
        "bullmq": bullmq.bullmq,  # the peer, measured just before our engine
        "jobs": foundation.job_engine,
        "rpc": foundation.request_reply,
        "gateway": gateway.gateway,
        "billing": billing.everything,
        "dns": dns.delegation_checks,
        "provisioning": provisioning.create_accounts,
        "pipeline": pipeline.everything,  # paid → active on the whole platform
        "notify": notify.everything,
        "audit": audit.everything,
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, scenario in scenarios.items():
            if (
                not only
                or name in only
                or name == "reference"
                or (name == "bullmq" and "jobs" in only)
            ):
                await scenario(report, admin_url, Path(tmp))
    bullmq.compare(report)
    print(f"saved {report.save()}")


if __name__ == "__main__":
    asyncio.run(main(set(sys.argv[1:])))
