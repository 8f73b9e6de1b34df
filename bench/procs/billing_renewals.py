"""Seed subscriptions (one process), then time one renewal run (another, so
its peak memory is the run's own).

python billing_renewals.py seed <database_url> <subscriptions>
python billing_renewals.py renew <database_url>     → prints JSON figures
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hospeda.billing.app import build
from hospeda.billing.config import BillingSettings
from hospeda.billing.demo import DEMO_CATALOG
from hospeda.billing.domain import period_end
from hospeda.billing.models import Invoice, Subscription
from hospeda.billing.service import Unit
from hospeda.contracts import new_id
from hospeda.contracts.billing import BillingCycle
from hospeda.runtime.clock import ManualClock
from hospeda.runtime.migrate import upgrade
from hospeda.runtime.models import OutboxMessage

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def app_for(url: str) -> Any:
    settings = BillingSettings(
        DATABASE_URL=url,
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",
        HOSPEDA_ENV="test",
        HOSPEDA_LOG_LEVEL="WARNING",
        webhook_port=0,
    )
    return build(settings, clock=ManualClock(NOW))


async def seed(url: str, count: int) -> None:
    app = app_for(url)
    db = app.runtime.db
    await upgrade(db, *app.runtime.migrations)
    async with db.transaction() as session:
        await app.billing.seed_catalog(Unit(session, NOW), DEMO_CATALOG)
        await session.execute(sa.delete(OutboxMessage))
    plans = count * 7 // 10  # 70 % plans, 30 % add-ons on some of them
    anchor = NOW - timedelta(days=27)
    end = period_end(anchor, BillingCycle.MONTHLY, 0)
    rows: list[dict[str, Any]] = []
    services: list[tuple[Any, Any, Any]] = []
    for i in range(count):
        if i < plans:
            sub_id, company, service = new_id(), new_id(), new_id()
            services.append((sub_id, company, service))
            row = {
                "id": sub_id,
                "company_id": company,
                "kind": "plan",
                "product_code": "basico",
                "price": 1990,
                "service_id": service,
                "parent_id": None,
                "domain": f"site{i}.com.br",
            }
        else:
            parent, company, service = services[i % plans]
            row = {
                "id": new_id(),
                "company_id": company,
                "kind": "addon",
                "product_code": "ssl",
                "price": 990,
                "service_id": service,
                "parent_id": parent,
                "domain": None,
            }
        rows.append(
            {
                **row,
                "cycle": "monthly",
                "currency": "BRL",
                "status": "active",
                "anchor_at": anchor,
                "period_number": 0,
                "period_start": anchor,
                "period_end": end,
                "cancel_at_period_end": False,
                "created_at": anchor,
                "updated_at": anchor,
            }
        )
        if len(rows) == 5000:
            async with db.transaction() as session:
                await session.execute(sa.insert(Subscription), rows)
            rows = []
    if rows:
        async with db.transaction() as session:
            await session.execute(sa.insert(Subscription), rows)
    await db.dispose()
    await app.runtime.producer.stop()


async def renew(url: str) -> None:
    app = app_for(url)
    db = app.runtime.db
    async with db.transaction() as session:  # connect and warm up before measuring
        await session.execute(sa.select(sa.func.count()).select_from(Subscription))
    before = peak_mb()
    started = time.perf_counter()
    renewed = await app.billing.renew_due(NOW)
    seconds = time.perf_counter() - started
    async with db.transaction() as session:
        invoices = (
            await session.execute(sa.select(sa.func.count()).select_from(Invoice))
        ).scalar_one()
        messages = (
            await session.execute(sa.select(sa.func.count()).select_from(OutboxMessage))
        ).scalar_one()
    await db.dispose()
    await app.runtime.producer.stop()
    print(
        json.dumps(
            {
                "renewed": renewed,
                "invoices": invoices,
                "messages": messages,
                "seconds": seconds,
                "peak_mb": peak_mb(),
                "before_mb": before,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    if sys.argv[1] == "seed":
        asyncio.run(seed(sys.argv[2], int(sys.argv[3])))
    else:
        asyncio.run(renew(sys.argv[2]))
