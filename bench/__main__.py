"""``python -m bench``: run every benchmark and save the figures."""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from pathlib import Path

from bench import billing, dns, foundation, gateway, notify, provisioning
from bench.support import Report, postgres_admin_url


async def main(only: set[str]) -> None:
    logging.basicConfig(level=logging.WARNING)
    admin_url = await postgres_admin_url()
    print(
        f"database: {'PostgreSQL' if admin_url else 'SQLite (no PostgreSQL answered)'}", flush=True
    )
    report = Report()
    scenarios = {
        "outbox": foundation.outbox_to_inbox,
        "jobs": foundation.job_engine,
        "rpc": foundation.request_reply,
        "gateway": gateway.gateway,
        "billing": billing.everything,
        "dns": dns.delegation_checks,
        "provisioning": provisioning.create_accounts,
        "notify": notify.everything,
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, scenario in scenarios.items():
            if not only or name in only:
                await scenario(report, admin_url, Path(tmp))
    print(f"saved {report.save()}")


if __name__ == "__main__":
    asyncio.run(main(set(sys.argv[1:])))
