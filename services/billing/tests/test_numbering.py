"""Invoice numbers have no gaps and no repeats, even with several billing
processes issuing at once and transactions that roll back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from billing_kit import START, place_order, settings_for

from hospeda.billing.app import BillingApp, build
from hospeda.billing.demo import DEMO_CATALOG
from hospeda.billing.models import Invoice
from hospeda.billing.service import Unit
from hospeda.contracts import new_id
from hospeda.runtime.clock import ManualClock
from hospeda.runtime.migrate import upgrade


class Abandoned(Exception):
    pass


@pytest.fixture
async def two_processes(database_url: str) -> AsyncIterator[list[BillingApp]]:
    clock = ManualClock(START)
    apps = [
        build(settings_for(database_url, "127.0.0.1:9", None, webhook_port=0), clock=clock)
        for _ in range(2)
    ]
    await upgrade(apps[0].runtime.db, *apps[0].runtime.migrations)
    async with apps[0].runtime.db.transaction() as session:
        await apps[0].billing.seed_catalog(Unit(session, START), DEMO_CATALOG)
    yield apps
    for app in apps:
        await app.runtime.db.dispose()
        await app.runtime.producer.stop()  # never started; closes it for good


async def test_numbers_are_gap_free_under_concurrency_and_rollbacks(
    two_processes: list[BillingApp],
) -> None:
    async def issue(i: int) -> None:
        app = two_processes[i % 2]
        try:
            async with app.runtime.db.transaction() as session:
                await app.billing.place_order(
                    Unit(session, app.billing.clock.now()), company_id=new_id(), order=place_order()
                )
                if i % 4 == 0:
                    raise Abandoned  # numbered, then rolled back: the number is given back
        except Abandoned:
            pass

    await asyncio.gather(*(issue(i) for i in range(48)))
    async with two_processes[0].runtime.db.transaction() as session:
        numbers = sorted((await session.execute(sa.select(Invoice.number))).scalars())
    assert numbers == [f"2026-{n:06d}" for n in range(1, 37)]


async def test_each_year_starts_a_new_series(two_processes: list[BillingApp]) -> None:
    app = two_processes[0]
    clock = app.billing.clock
    for _ in range(2):
        async with app.runtime.db.transaction() as session:
            await app.billing.place_order(
                Unit(session, clock.now()), company_id=new_id(), order=place_order()
            )
    clock.set(START.replace(year=2027, month=1, day=1) + timedelta(hours=1))
    async with app.runtime.db.transaction() as session:
        await app.billing.place_order(
            Unit(session, clock.now()), company_id=new_id(), order=place_order()
        )
    async with app.runtime.db.transaction() as session:
        numbers = sorted((await session.execute(sa.select(Invoice.number))).scalars())
    assert numbers == ["2026-000001", "2026-000002", "2027-000001"]
