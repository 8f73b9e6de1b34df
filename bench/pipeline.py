"""Paid → active: orders paid by card on the whole platform (every service its
own process, as ``make run`` starts them, with the Stripe, WHM, Cloudflare,
PSP and SMTP simulators), timed from Kafka.

An order is placed (not timed), then its invoice is paid by card
(``pm_card_visa``): the Stripe simulator sends the signed webhook to billing's
ingress, billing records the payment, activates the subscription and asks
provisioning for the account; provisioning's create-account job runs every
WHM step (no latency, AutoSSL done at once) and announces
``provisioning.service.activated``; dns then creates the zone.

Latency per order: ``provisioning.service.activated`` (and ``dns.zone.created``)
minus ``billing.payment.succeeded`` — the ``occurred_at`` of each event's
envelope, stamped by the services' clocks on this one machine. Every order
is its own company, so the company id links its events on every topic. The
Kafka record timestamp (when the outbox relay sent it) is kept too, so each
hop splits into "written → published" (the outbox relay) and "published →
next event written" (a consumer, a job worker).

Scenarios: 100 orders paid one at a time (the latency), the same number paid
at once (throughput and latency under load) with one process each, and
again with two billing and two provisioning processes (same consumer groups,
same databases). What limits it: this machine runs the broker, PostgreSQL,
every service and every simulator at once; WHM calls are capped at 4 at once
per simulated server (the devstack's ``concurrency``), 2 servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.support import Report, broker, fresh_database, percentile
from hospeda.contracts import Actor, Envelope, Money, decode, new_id
from hospeda.contracts.billing import (
    BillingCycle,
    PayInvoice,
    PaymentMethod,
    PlaceOrder,
    Price,
    ProductKind,
    PublishCatalogItem,
)
from hospeda.contracts.topics import (
    BILLING_CATALOG,
    BILLING_COMMANDS,
    BILLING_INVOICE,
    BILLING_JOB,
    BILLING_PAYMENT,
    BILLING_SUBSCRIPTION,
    DNS_COMMANDS,
    DNS_JOB,
    DNS_ZONE,
    PROVISIONING_COMMANDS,
    PROVISIONING_JOB,
    PROVISIONING_SERVICE,
)
from hospeda.devstack.servers import free_port, start_redis, wait_for_port
from hospeda.devstack.stack import SERVICES, Stack
from hospeda.runtime.broker import ensure_topics, publish

ORDERS = int(os.environ.get("BENCH_PIPELINE_ORDERS", "100"))
TIMEOUT_S = 180.0  # per scenario: report what is missing, never hang
SEQUENTIAL_TIMEOUT_S = 300.0
PLAN, PACKAGE = "bench-plan", "default"
WHM_SERVERS, WHM_CONCURRENCY = 2, 4  # as the devstack's simulated servers
INSTANCES = (1, 2)  # processes of billing and provisioning
ROOT = Path(__file__).resolve().parents[1]
WATCHED = (
    BILLING_CATALOG,
    BILLING_INVOICE,
    BILLING_PAYMENT,
    BILLING_SUBSCRIPTION,
    BILLING_JOB,
    PROVISIONING_COMMANDS,
    PROVISIONING_JOB,
    PROVISIONING_SERVICE,
    DNS_COMMANDS,
    DNS_JOB,
    DNS_ZONE,
)
# the milestones of one order, in the order they happen (those seen are used)
CHAIN = (
    "pay_invoice sent",
    "billing job.queued stripe-pay",
    "billing job.started stripe-pay",
    "billing.payment.succeeded",
    "billing.invoice.paid",
    "billing.subscription.activated",
    "provisioning.create_account",
    "provisioning job.queued create-account",
    "provisioning job.started create-account",
    "provisioning.service.activated",
    "dns.create_zone",
    "dns job.queued create-zone",
    "dns job.started create-zone",
    "dns.zone.created",
)
START, ACTIVE, ZONE = (
    "billing.payment.succeeded",
    "provisioning.service.activated",
    "dns.zone.created",
)


@dataclass
class Seen:
    occurred: datetime
    published: datetime | None  # the Kafka record's timestamp
    envelope: Envelope[Any]


@dataclass
class Watcher:
    """Every event of the watched topics, by company (one company per order)."""

    bootstrap: str
    orders: dict[UUID, dict[str, Seen]] = field(default_factory=lambda: defaultdict(dict))
    domains: dict[str, UUID] = field(default_factory=dict)
    steps: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    trouble: Counter[str] = field(default_factory=Counter)
    catalog: set[str] = field(default_factory=set)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Watcher]:
        consumer = AIOKafkaConsumer(
            *(t.name for t in WATCHED),
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
            fetch_max_wait_ms=10,
        )
        await consumer.start()
        task = asyncio.create_task(self._read(consumer))
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await consumer.stop()

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=100)
            for records in batch.values():
                for record in records:
                    try:
                        envelope = decode(record.value)
                    except Exception:
                        continue
                    published = datetime.fromtimestamp(record.timestamp / 1000, UTC)
                    self.see(record.topic, envelope, published)

    def see(self, topic: str, envelope: Envelope[Any], published: datetime | None) -> None:
        payload = envelope.payload
        if envelope.type == "billing.catalog.item_published":
            self.catalog.add(payload.code)
        company = envelope.company_id
        if company not in self.orders:
            company = self.domains.get(str(getattr(payload, "domain", "")))
        if company is None:
            return
        name = envelope.type
        if topic.endswith(".job.v1"):
            service, kind = topic.split(".")[0], payload.kind
            if envelope.type in ("job.failed", "job.retry_scheduled", "job.dead_lettered"):
                self.trouble[f"{service} {kind} {envelope.type}"] += 1
            if envelope.type == "job.step_succeeded":
                step = payload.step.split(":")[0] if "mysql." in payload.step else payload.step
                self.steps[f"{service} {kind}: {step}"].append(payload.duration_ms)
            if envelope.type == "job.step_started":
                name = "job.started"
            name = f"{service} {name} {kind}"
        record = self.orders[company]
        if name not in record or envelope.occurred_at < record[name].occurred:
            record[name] = Seen(envelope.occurred_at, published, envelope)

    def track(self, company: UUID, domain: str) -> None:
        self.orders[company] = {}
        self.domains[domain] = company

    def done(self, company: UUID) -> bool:
        record = self.orders[company]
        return ACTIVE in record and ZONE in record


async def _until(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def _whm_simulator(port: int, token: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hospeda.provisioning.simulator",
            "--port",
            str(port),
            "--latency-ms",
            "0",
            "--autossl-seconds",
            "0",
            "--packages",
            PACKAGE,
        ],
        env={**os.environ, "WHM_SIMULATOR_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextlib.asynccontextmanager
async def _platform(
    admin_url: str | None, tmp: Path, instances: int
) -> AsyncIterator[tuple[str, Stack]]:
    """The whole platform; ``instances`` processes of billing and provisioning."""
    token = new_id().hex
    ports = [free_port() for _ in range(WHM_SERVERS)]
    simulators = [_whm_simulator(port, token) for port in ports]
    redis = await asyncio.to_thread(start_redis, workdir=tmp / f"redis-{instances}")
    try:
        for port, process in zip(ports, simulators, strict=True):
            await asyncio.to_thread(wait_for_port, "127.0.0.1", port, timeout=30, process=process)
        whm = json.dumps(
            [
                {
                    "name": f"whm{i + 1}",
                    "url": f"http://127.0.0.1:{port}",
                    "token": token,
                    "packages": [PACKAGE],
                    "max_accounts": 1000,
                    "concurrency": WHM_CONCURRENCY,
                }
                for i, port in enumerate(ports)
            ]
        )
        async with contextlib.AsyncExitStack() as stack, broker(tmp) as bootstrap:
            databases = {
                name: await stack.enter_async_context(
                    fresh_database(admin_url, tmp, f"pipe{instances}_{name}")
                )
                for name in (*SERVICES, "gateway")
            }
            await ensure_topics(bootstrap, partitions=6, replication=1)
            environ = {
                **os.environ,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "REDIS_URL": redis.url,
                "HOSPEDA_ENV": "test",
                "HOSPEDA_KAFKA_SESSION_TIMEOUT_MS": "2000",
                "PROVISIONING_WHM_SERVERS": whm,
            }
            platform = Stack(
                root=ROOT,
                gateway_port=free_port(),
                environ=environ,
                database_urls=databases,
                data_dir=tmp / f"stack-{instances}",
                echo=False,
                instances={"billing": instances, "provisioning": instances},
            )
            # the devstack plans read the process environment: our WHM servers, not theirs
            before = os.environ.get("PROVISIONING_WHM_SERVERS")
            os.environ["PROVISIONING_WHM_SERVERS"] = whm
            try:
                await platform.start(timeout=120)
            finally:
                if before is None:
                    os.environ.pop("PROVISIONING_WHM_SERVERS", None)
                else:
                    os.environ["PROVISIONING_WHM_SERVERS"] = before
            try:
                yield bootstrap, platform
            finally:
                await platform.stop()
    finally:
        redis.stop()
        for process in simulators:
            process.terminate()
            process.wait(10)


class Shop:
    """Places orders and pays their invoices through billing's commands topic."""

    def __init__(self, producer: AIOKafkaProducer, watcher: Watcher) -> None:
        self.producer, self.watcher = producer, watcher
        self.customer = Actor(kind="user", id="bench-user")
        self.serial = 0

    async def publish_plan(self) -> bool:
        item = PublishCatalogItem(
            code=PLAN,
            kind=ProductKind.PLAN,
            name="Bench",
            prices=(Price(cycle=BillingCycle.MONTHLY, amount=Money(amount=2500)),),
            whm_package=PACKAGE,
        )
        company = new_id()
        envelope = Envelope.of(
            item, actor=Actor(kind="staff", id="bench-staff"), company_id=company
        )
        await publish(self.producer, envelope, topic=BILLING_COMMANDS, key=company)
        return await _until(lambda: PLAN in self.watcher.catalog, 60)

    async def place(self, count: int) -> dict[UUID, UUID]:
        """``count`` orders, each its own company; their invoices by company."""
        companies = []
        for _ in range(count):
            self.serial += 1
            company, domain = new_id(), f"pedido{self.serial:04d}.com.br"
            self.watcher.track(company, domain)
            order = PlaceOrder(
                order_id=new_id(),
                plan_code=PLAN,
                domain=domain,
                cycle=BillingCycle.MONTHLY,
                contact_email=f"dono@{domain}",
            )
            envelope = Envelope.of(order, actor=self.customer, company_id=company)
            await publish(self.producer, envelope, topic=BILLING_COMMANDS, key=company)
            companies.append(company)
        orders = self.watcher.orders
        await _until(lambda: all("billing.invoice.issued" in orders[c] for c in companies), 120)
        return {
            c: orders[c]["billing.invoice.issued"].envelope.payload.invoice_id
            for c in companies
            if "billing.invoice.issued" in orders[c]
        }

    async def pay(self, company: UUID, invoice: UUID) -> None:
        command = PayInvoice(
            invoice_id=invoice, method=PaymentMethod.CARD, payment_method_ref="pm_card_visa"
        )
        envelope = Envelope.of(command, actor=self.customer, company_id=company)
        self.watcher.orders[company]["pay_invoice sent"] = Seen(
            envelope.occurred_at, envelope.occurred_at, envelope
        )
        await publish(self.producer, envelope, topic=BILLING_COMMANDS, key=company)


def _ms(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() * 1000


def _figures(samples: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(samples, 50),
        "p90": percentile(samples, 90),
        "p99": percentile(samples, 99),
        "max": max(samples),
    }


def _summarise(
    report: Report, watcher: Watcher, companies: list[UUID], label: str, **details: Any
) -> None:
    records = [watcher.orders[c] for c in companies]
    active = [r for r in records if START in r and ACTIVE in r]
    zoned = [r for r in records if START in r and ZONE in r]
    details = {
        **details,
        "orders": len(companies),
        "activated": len(active),
        "zone_created": len(zoned),
        "missing_activation": len(companies) - len(active),
        "missing_zone": len(companies) - len(zoned),
        "job_trouble": dict(watcher.trouble),
    }
    if active:
        to_active = [_ms(r[START].occurred, r[ACTIVE].occurred) for r in active]
        for name, value in _figures(to_active).items():
            report.add("pipeline", f"{label}: paid → activated {name}", value, "ms", **details)
        first = min(r["pay_invoice sent"].occurred for r in records if "pay_invoice sent" in r)
        last = max(r[ACTIVE].occurred for r in active)
        seconds = (last - first).total_seconds()
        if seconds > 0:
            report.add(
                "pipeline",
                f"{label}: throughput (pay sent → last activated)",
                len(active) / seconds,
                "orders/s",
                **details,
                seconds=round(seconds, 2),
            )
        from_command = [_ms(r["pay_invoice sent"].occurred, r[ACTIVE].occurred) for r in active]
        report.add(
            "pipeline",
            f"{label}: PayInvoice sent → activated p99",
            percentile(from_command, 99),
            "ms",
            **details,
            p50=round(percentile(from_command, 50), 1),
        )
    if zoned:
        to_zone = [_ms(r[START].occurred, r[ZONE].occurred) for r in zoned]
        for name in ("p50", "p99"):
            report.add(
                "pipeline",
                f"{label}: paid → DNS zone {name}",
                _figures(to_zone)[name],
                "ms",
                **details,
            )
    _breakdown(records, label)


def _breakdown(records: list[dict[str, Seen]], label: str) -> None:
    """Where the time goes, hop by hop: one milestone's event written → the
    next one's written (both ``occurred_at``), and beside it the outbox relay's
    share of the first (written → its record's Kafka timestamp). Events
    written in one transaction (billing's payment, invoice, subscription and
    command) are a few ms apart and leave in one relay batch."""
    hops: dict[tuple[str, str], list[float]] = defaultdict(list)
    relay: dict[str, list[float]] = defaultdict(list)
    for record in records:
        seen = [name for name in CHAIN if name in record]
        for a, b in itertools.pairwise(seen):
            hops[a, b].append(_ms(record[a].occurred, record[b].occurred))
            published = record[a].published
            if published is not None and a != "pay_invoice sent":
                relay[a].append(_ms(record[a].occurred, published))
    print(
        f"  where the time goes ({label}), ms over orders:"
        f"{'p50':>21}{'p90':>8}{'max':>8}   relay p50 / max",
        flush=True,
    )
    for (a, b), samples in hops.items():
        f = _figures(samples)
        shown = f"    {a} → {b}"
        extra = f"   {percentile(relay[a], 50):>5.0f} / {max(relay[a]):.0f}" if relay.get(a) else ""
        print(f"{shown:<88}{f['p50']:>7.0f} {f['p90']:>7.0f} {f['max']:>7.0f}{extra}", flush=True)


def _who_worked(platform: Stack) -> None:
    """Jobs each process ran (its "job <kind> <id> attempt <n>: done" lines,
    warm-up included): whether the second processes took a share."""
    for name, lines in sorted(platform.output.items()):
        done = Counter(
            line.split(" job ", 1)[1].split()[0]
            for line in lines
            if " job " in line and line.rstrip().endswith(": done")
        )
        if name.startswith(("billing", "provisioning")):
            print(f"  jobs run by {name}: {dict(done)}", flush=True)


def _steps(watcher: Watcher) -> None:
    print("  job steps (ms, median of each step's own duration_ms):")
    for name, samples in sorted(watcher.steps.items()):
        print(f"    {name:<70} {statistics.median(samples):>7.0f}  ({len(samples)})")


async def _sequential(shop: Shop, watcher: Watcher, count: int) -> list[UUID]:
    invoices = await shop.place(count)
    deadline = time.monotonic() + SEQUENTIAL_TIMEOUT_S
    for company, invoice in invoices.items():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        await shop.pay(company, invoice)
        await _until(lambda c=company: ACTIVE in watcher.orders[c], min(left, 30))
    await _until(lambda: all(watcher.done(c) for c in invoices), 30)
    return list(invoices)


async def _at_once(shop: Shop, watcher: Watcher, count: int) -> list[UUID]:
    invoices = await shop.place(count)
    await asyncio.gather(*(shop.pay(c, i) for c, i in invoices.items()))
    await _until(lambda: all(watcher.done(c) for c in invoices), TIMEOUT_S)
    return list(invoices)


async def everything(report: Report, admin_url: str | None, tmp: Path) -> None:
    """100 orders paid one at a time and at once, with 1 and 2 processes of
    billing and provisioning."""
    for instances in INSTANCES:
        async with _platform(admin_url, tmp, instances) as (bootstrap, platform):
            watcher = Watcher(bootstrap)
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
            await producer.start()
            try:
                async with watcher.running():
                    shop = Shop(producer, watcher)
                    if not await shop.publish_plan():
                        print("  pipeline: the plan was never published; skipped", flush=True)
                        return
                    # warm-up: every consumer joined, every connection open
                    warm = await _at_once(shop, watcher, 3)
                    if not all(watcher.done(c) for c in warm):
                        print("  pipeline: the warm-up orders never activated", flush=True)
                    await asyncio.sleep(3)
                    watcher.steps.clear()
                    watcher.trouble.clear()
                    procs = f"{instances} billing + {instances} provisioning"
                    if instances == 1:
                        done = await _sequential(shop, watcher, ORDERS)
                        _summarise(report, watcher, done, f"{ORDERS} one at a time, {procs}")
                        _steps(watcher)
                        watcher.steps.clear()
                        watcher.trouble.clear()
                    done = await _at_once(shop, watcher, ORDERS)
                    _summarise(report, watcher, done, f"{ORDERS} at once, {procs}")
                    _steps(watcher)
                    _who_worked(platform)
            finally:
                await producer.stop()
