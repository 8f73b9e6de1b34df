"""Billing figures: a renewal run over many subscriptions, and Stripe
webhook events applied per second."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench.support import Report, Stopwatch, fresh_database
from hospeda.billing.app import build
from hospeda.billing.config import BillingSettings
from hospeda.billing.demo import DEMO_CATALOG
from hospeda.billing.models import Invoice, Payment
from hospeda.billing.service import Unit
from hospeda.contracts import new_id
from hospeda.contracts.billing import BillingCycle, PlaceOrder
from hospeda.devstack.servers import free_port, wait_for_port
from hospeda.runtime.migrate import upgrade

PROCS = Path(__file__).parent / "procs"
SECRET = "whsec_bench_signing_secret_0123456789"


async def renewals(report: Report, admin_url: str | None, tmp: Path, count: int = 100_000) -> None:
    """One clock tick's renewal run over ``count`` subscriptions due for renewal."""
    script = str(PROCS / "billing_renewals.py")
    async with fresh_database(admin_url, tmp, "renewals") as url:
        await asyncio.to_thread(
            subprocess.run, [sys.executable, script, "seed", url, str(count)], check=True
        )
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, script, "renew", url],
            capture_output=True,
            text=True,
            check=True,
        )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["renewed"] == count, figures
    label = f"renewal run, {count:,} subscriptions"
    report.add("billing", f"{label} → {figures['invoices']:,} invoices", figures["seconds"], "s")
    report.add("billing", f"{label}: rate", count / figures["seconds"], "subs/s")
    report.add("billing", f"{label}: peak memory (RSS) of the process", figures["peak_mb"], "MB")
    report.add(
        "billing",
        f"{label}: peak memory added by the run",
        figures["peak_mb"] - figures["before_mb"],
        "MB",
    )


def _event(i: int, intent: str, payment_id: str, amount: int) -> bytes:
    return json.dumps(
        {
            "id": f"evt_bench_{i}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": intent,
                    "object": "payment_intent",
                    "status": "succeeded",
                    "amount": amount,
                    "amount_received": amount,
                    "metadata": {"payment_id": payment_id},
                }
            },
        }
    ).encode()


def _signed(body: bytes) -> dict[str, str]:
    stamp = int(time.time())
    signature = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={stamp},v1={signature}", "Content-Type": "application/json"}


async def webhooks(
    report: Report, admin_url: str | None, tmp: Path, count: int = 2000, concurrency: int = 32
) -> None:
    """Signed ``payment_intent.succeeded`` events, each paying an order's
    invoice (activation and provisioning commands included), then the same
    events again (duplicates)."""
    async with fresh_database(admin_url, tmp, "webhooks") as url:
        settings = BillingSettings(
            DATABASE_URL=url,
            KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",
            HOSPEDA_ENV="test",
            webhook_port=0,
        )
        app = build(settings)
        db = app.runtime.db
        await upgrade(db, *app.runtime.migrations)
        async with db.transaction() as session:
            await app.billing.seed_catalog(app.billing.unit(session), DEMO_CATALOG)
        for start in range(0, count, 200):
            async with db.transaction() as session:
                for i in range(start, min(count, start + 200)):
                    await app.billing.place_order(
                        Unit(session, app.billing.clock.now()),
                        company_id=new_id(),
                        order=PlaceOrder(
                            order_id=new_id(),
                            plan_code="basico",
                            domain=f"bench{i}.com.br",
                            cycle=BillingCycle.MONTHLY,
                            contact_email="bench@hospeda.dev",
                        ),
                    )
        events: list[bytes] = []
        async with db.transaction() as session:
            invoices = (await session.execute(sa.select(Invoice))).scalars().all()
            now = app.billing.clock.now()
            for i, invoice in enumerate(invoices):
                payment_id, intent = new_id(), f"pi_bench_{i}"
                session.add(
                    Payment(
                        id=payment_id,
                        company_id=invoice.company_id,
                        invoice_id=invoice.id,
                        method="card",
                        provider="stripe",
                        provider_reference=intent,
                        amount=invoice.total,
                        currency=invoice.currency,
                        status="pending",
                        created_at=now,
                        updated_at=now,
                    )
                )
                events.append(_event(i, intent, str(payment_id), invoice.total))
            await session.execute(sa.text("DELETE FROM outbox_message"))
        await db.dispose()
        await app.runtime.producer.stop()

        port = free_port()
        server = subprocess.Popen(
            [sys.executable, str(PROCS / "billing_ingress.py"), url, str(port), SECRET],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await asyncio.to_thread(wait_for_port, "127.0.0.1", port, timeout=30, process=server)
            endpoint = f"http://127.0.0.1:{port}/webhooks/stripe"
            limits = httpx.Limits(max_connections=concurrency)
            async with httpx.AsyncClient(timeout=60, limits=limits) as client:

                async def send_all() -> list[int]:
                    gate = asyncio.Semaphore(concurrency)

                    async def one(body: bytes) -> int:
                        async with gate:
                            response = await client.post(
                                endpoint, content=body, headers=_signed(body)
                            )
                            return response.status_code

                    return await asyncio.gather(*(one(body) for body in events))

                with Stopwatch() as first:
                    statuses = await send_all()
                assert set(statuses) == {200}, set(statuses)
                with Stopwatch() as again:
                    statuses = await send_all()
                assert set(statuses) == {200}, set(statuses)
        finally:
            server.terminate()
            server.wait(10)
        report.add(
            "billing",
            f"webhook events applied (each pays an invoice), {concurrency} concurrent",
            count / first.seconds,
            "events/s",
        )
        report.add(
            "billing",
            f"webhook events deduplicated (same {count:,} again), {concurrency} concurrent",
            count / again.seconds,
            "events/s",
        )


async def everything(report: Report, admin_url: str | None, tmp: Path) -> None:
    await renewals(report, admin_url, tmp)
    await webhooks(report, admin_url, tmp)
