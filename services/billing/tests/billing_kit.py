"""Factories and helpers for billing's tests: the Stripe simulator as a real
process, a billing service on the real broker and database, a watcher of
what it publishes, and small builders for commands."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.billing.app import BillingApp, build
from hospeda.billing.config import BillingSettings
from hospeda.billing.demo import DEMO_CATALOG
from hospeda.billing.service import Unit
from hospeda.contracts import Actor, Envelope, Payload, decode, new_id
from hospeda.contracts.billing import BillingCycle, OrderAddon, PlaceOrder
from hospeda.contracts.topics import (
    BILLING_CATALOG,
    BILLING_COMMANDS,
    BILLING_INVOICE,
    BILLING_ORDER,
    BILLING_PAYMENT,
    BILLING_SUBSCRIPTION,
    NOTIFY_COMMANDS,
    OPS_ALERT,
    PROVISIONING_COMMANDS,
)
from hospeda.devstack.servers import free_port, wait_for_port
from hospeda.devstack.testing import eventually
from hospeda.runtime.broker import publish
from hospeda.runtime.clock import ManualClock
from hospeda.runtime.models import Job, OutboxMessage
from hospeda.runtime.rpc import QueryClient

API_KEY = "sk_test_hospeda_simulator_key"
WEBHOOK_SECRET = "whsec_hospeda_test_signing_secret"
PIX_KEY = "financeiro@hospeda.com.br"
START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

USER = Actor(kind="user", id="user-1")
STAFF = Actor(kind="staff", id="staff-1")

WATCHED = (
    BILLING_CATALOG,
    BILLING_ORDER,
    BILLING_INVOICE,
    BILLING_PAYMENT,
    BILLING_SUBSCRIPTION,
    PROVISIONING_COMMANDS,
    NOTIFY_COMMANDS,
    OPS_ALERT,
)


# --- the Stripe simulator ------------------------------------------------------------------------


@dataclass
class StripeSim:
    """The simulator process and its control API."""

    url: str
    process: subprocess.Popen[bytes]

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, self.url + path, timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    async def acontrol(self, method: str, path: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.request(method, self.url + path, **kwargs)
        response.raise_for_status()
        return response.json()

    async def state(self) -> dict[str, Any]:
        return await self.acontrol("GET", "/_sim/state")  # type: ignore[no-any-return]

    async def fault(self, mode: str, **options: Any) -> None:
        await self.acontrol("POST", "/_sim/faults", json={"mode": mode, **options})

    async def intents(self) -> list[dict[str, Any]]:
        return (await self.state())["payment_intents"]  # type: ignore[no-any-return]


@contextlib.contextmanager
def simulator(module: str, *args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``python -m <module> --port <free> <args>`` running; its URL and process."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30, process=process)
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def stripe_process() -> Iterator[StripeSim]:
    args = ("--api-key", API_KEY, "--webhook-secret", WEBHOOK_SECRET)
    with simulator("hospeda.billing.simulator", *args) as (url, process):
        yield StripeSim(url, process)


@pytest.fixture
def stripe_sim(stripe_process: StripeSim) -> StripeSim:
    """The simulator, emptied for this test."""
    stripe_process.control("POST", "/_sim/reset")
    return stripe_process


# --- the Pix PSP simulator -----------------------------------------------------------------------

PSP_CLIENT = ("hospeda-billing", "psp-client-secret-for-tests")
PSP_WEBHOOK_SECRET = "psp-webhook-secret-for-tests-0123456789"


@dataclass
class PspSim:
    """The PSP simulator process and its control API."""

    url: str
    process: subprocess.Popen[bytes]

    async def control(self, action: str, body: dict[str, Any] | None = None) -> Any:
        async with httpx.AsyncClient(timeout=30) as client:
            if body is None and action == "state":
                response = await client.get(f"{self.url}/_sim/state")
            else:
                response = await client.post(f"{self.url}/_sim/{action}", json=body or {})
        response.raise_for_status()
        return response.json()

    async def pay(self, txid: str, **options: Any) -> list[dict[str, Any]]:
        return (await self.control("pay", {"txid": txid, **options}))["pix"]  # type: ignore[no-any-return]

    async def fault(self, mode: str, times: int = 1) -> None:
        await self.control("faults", {"mode": mode, "times": times})

    async def state(self) -> dict[str, Any]:
        return await self.control("state")  # type: ignore[no-any-return]

    def settings(self, webhook_port: int) -> dict[str, Any]:
        """Billing's settings for this PSP, its webhook at ``webhook_port``."""
        return {
            "pix_psp_url": f"{self.url}/api/v2",
            "pix_psp_token_url": f"{self.url}/oauth/token",
            "pix_psp_client_id": PSP_CLIENT[0],
            "pix_psp_client_secret": PSP_CLIENT[1],
            "pix_webhook_secret": PSP_WEBHOOK_SECRET,
            "pix_webhook_url": f"http://127.0.0.1:{webhook_port}/webhooks/pix",
            "pix_psp_timeout_s": 3,
            "webhook_port": webhook_port,
        }


@pytest.fixture(scope="session")
def psp_process() -> Iterator[PspSim]:
    args = ("--key", PIX_KEY, "--client-id", PSP_CLIENT[0], "--client-secret", PSP_CLIENT[1])
    with simulator(
        "hospeda.billing.simulator.psp", *args, "--webhook-secret", PSP_WEBHOOK_SECRET
    ) as (url, process):
        yield PspSim(url, process)


# --- a billing service ----------------------------------------------------------------------------


def settings_for(
    database_url: str, bootstrap: str, sim: StripeSim | None, **extra: Any
) -> BillingSettings:
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "HOSPEDA_ENV": "test",
        "HOSPEDA_LOG_JSON": False,
        "HOSPEDA_LOG_LEVEL": "WARNING",
        "HOSPEDA_KAFKA_SESSION_TIMEOUT_MS": 2000,
        "HOSPEDA_TOPIC_PARTITIONS": 3,
        "webhook_port": free_port(),
        "tick_interval_s": 0.1,
        "job_retry_base_s": 0.2,
        "stripe_timeout_s": 3,
        "pix_key": PIX_KEY,
        "pix_merchant_name": "Hospeda Hospedagem",
        "pix_merchant_city": "São Paulo",
    }
    if sim is not None:
        values.update(
            stripe_secret_key=API_KEY,
            stripe_webhook_secret=WEBHOOK_SECRET,
            stripe_api_base=sim.url,
        )
    values.update(extra)
    return BillingSettings(**values)


class Watcher:
    """Reads every topic billing writes to, from the start, into memory."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.seen: dict[str, list[Envelope[Any]]] = {t.name: [] for t in WATCHED}
        self.dead: list[tuple[Envelope[Any] | None, str]] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.polls = 0  # completed reads

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            *(t.name for t in WATCHED),
            BILLING_COMMANDS.dlq,
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=100)
            for records in batches.values():
                for record in records:
                    if record.topic.endswith(".dlq"):
                        reason = dict(record.headers).get("x-dlq-reason", b"").decode()
                        try:
                            envelope: Envelope[Any] | None = decode(record.value)
                        except Exception:
                            envelope = None
                        self.dead.append((envelope, reason))
                    else:
                        self.seen[record.topic].append(decode(record.value))
            self.polls += 1

    async def drained(self) -> bool:
        """Everything already on the broker has been read: two whole reads
        after this call (the broker's end offsets alone can lag behind)."""
        start = self.polls
        while self.polls < start + 2:
            await asyncio.sleep(0.02)
        return await self.caught_up()

    async def caught_up(self) -> bool:
        assert self._consumer is not None
        partitions = list(self._consumer.assignment())
        if not partitions:
            return False
        ends = await self._consumer.end_offsets(partitions)
        for partition in partitions:
            if await self._consumer.position(partition) < ends[partition]:
                return False
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    def of(self, topic: Any, message_type: str | None = None) -> list[Any]:
        """Payloads seen on ``topic`` (optionally of one type), in order."""
        name = topic if isinstance(topic, str) else topic.name
        return [e.payload for e in self.seen[name] if message_type in (None, e.type)]

    def envelopes(self, topic: Any, message_type: str | None = None) -> list[Envelope[Any]]:
        name = topic if isinstance(topic, str) else topic.name
        return [e for e in self.seen[name] if message_type in (None, e.type)]


@dataclass
class Harness:
    """One billing service under test and the tools to drive it."""

    app: BillingApp
    clock: ManualClock
    bootstrap: str
    watcher: Watcher
    producer: AIOKafkaProducer
    queries: QueryClient
    sim: StripeSim | None
    company_id: UUID = field(default_factory=new_id)
    _dead_read: int = 0

    @property
    def billing(self) -> Any:
        return self.app.billing

    @property
    def webhook_url(self) -> str:
        settings = self.app.billing.settings
        return f"http://127.0.0.1:{settings.webhook_port}/webhooks/stripe"

    async def send(
        self,
        payload: Payload,
        *,
        company_id: UUID | str | None = "default",
        actor: Actor = USER,
    ) -> Envelope[Any]:
        company = self.company_id if company_id == "default" else company_id
        envelope = Envelope.of(payload, actor=actor, company_id=company, ip="203.0.113.7")  # type: ignore[arg-type]
        await publish(self.producer, envelope, topic=BILLING_COMMANDS, key=company)  # type: ignore[arg-type]
        return envelope

    async def ask(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        *,
        company_id: UUID | str | None = "default",
        actor: Actor = USER,
    ) -> Any:
        company = self.company_id if company_id == "default" else company_id
        return await self.queries.ask(
            "billing",
            name,
            params or {},
            actor=actor,
            company_id=company,
            timeout=15,  # type: ignore[arg-type]
        )

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.app.runtime.db.transaction() as session:
            yield session

    async def rows(self, model: Any, *where: Any) -> list[Any]:
        async with self.session() as session:
            statement = sa.select(model).where(*where) if where else sa.select(model)
            return list((await session.execute(statement)).scalars().all())

    async def wait(
        self,
        topic: Any,
        message_type: str,
        *,
        count: int = 1,
        where: Callable[[Any], bool] = lambda _: True,
        timeout: float = 40,
    ) -> list[Any]:
        """Wait until ``count`` matching messages were published; returns them."""

        def found() -> list[Any]:
            return [p for p in self.watcher.of(topic, message_type) if where(p)]

        await eventually(
            lambda: len(found()) >= count,
            timeout=timeout,
            message=f"{count} × {message_type} on {getattr(topic, 'name', topic)}",
        )
        return found()

    async def dead_letter(self, *, timeout: float = 40) -> str:
        """The reason of the next command billing refused (in order)."""
        index = self._dead_read
        await eventually(
            lambda: len(self.watcher.dead) > index, timeout=timeout, message="a dead letter"
        )
        self._dead_read += 1
        return self.watcher.dead[index][1]

    async def quiet(self, *, timeout: float = 60) -> None:
        """Wait until billing has nothing left in flight: no job queued or
        running, every Stripe event delivered, the outbox empty, and the
        watcher has read to the end. Then counts are final."""

        async def settled() -> bool:
            async with self.session() as session:
                jobs = await session.execute(
                    sa.select(sa.func.count())
                    .select_from(Job)
                    .where(Job.state.in_(["queued", "running"]))  # type: ignore[attr-defined]
                )
                if jobs.scalar_one():
                    return False
            if self.sim is not None:
                state = await self.sim.state()
                delivered = {d["event"] for d in state["deliveries"] if 200 <= d["status"] < 300}
                if state["held"] or any(e["id"] not in delivered for e in state["events"]):
                    return False
            async with self.session() as session:
                pending = await session.execute(
                    sa.select(sa.func.count()).select_from(OutboxMessage)
                )
                if pending.scalar_one():
                    return False
            return await self.watcher.drained()

        await eventually(settled, timeout=timeout, message="billing to settle")

    async def seed_catalog(self) -> None:
        async with self.session() as session:
            await self.billing.seed_catalog(Unit(session, self.clock.now()), DEMO_CATALOG)

    async def advance(self, days: float = 0, **delta: float) -> None:
        """Move the business clock and run the clock-driven work once."""
        self.clock.advance(timedelta(days=days, **delta))
        await self.billing.tick()


def place_order(
    *,
    plan: str = "basico",
    domain: str | None = None,
    cycle: BillingCycle = BillingCycle.MONTHLY,
    addons: tuple[str, ...] = (),
    email: str | None = "dono@exemplo.com.br",
) -> PlaceOrder:
    return PlaceOrder(
        order_id=new_id(),
        plan_code=plan,
        domain=domain or f"loja-{new_id().hex[-8:]}.com.br",
        cycle=cycle,
        addons=tuple(OrderAddon(code=code) for code in addons),
        contact_email=email,
    )


async def start_harness(
    *,
    database_url: str,
    bootstrap: str,
    sim: StripeSim | None,
    clock: ManualClock | None = None,
    **settings: Any,
) -> tuple[BillingApp, ManualClock]:
    clock = clock or ManualClock(START)
    app = build(settings_for(database_url, bootstrap, sim, **settings), clock=clock)
    await app.runtime.start()
    return app, clock


@pytest.fixture
async def billing(
    database_url: str, kafka_bootstrap: str, stripe_sim: StripeSim
) -> AsyncIterator[Harness]:
    """A running billing service (real broker, database and Stripe simulator)."""
    async with running_billing(database_url, kafka_bootstrap, stripe_sim) as harness:
        yield harness


@contextlib.asynccontextmanager
async def running_billing(
    database_url: str, bootstrap: str, sim: StripeSim | None, **settings: Any
) -> AsyncIterator[Harness]:
    app, clock = await start_harness(
        database_url=database_url, bootstrap=bootstrap, sim=sim, **settings
    )
    if sim is not None:
        await sim.acontrol(
            "POST",
            "/_sim/config",
            json={
                "webhook_url": f"http://127.0.0.1:{app.billing.settings.webhook_port}/webhooks/stripe"
            },
        )
    watcher = Watcher(bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    queries = QueryClient(
        bootstrap_servers=bootstrap, producer=producer, instance_id=f"test-{new_id().hex[:8]}"
    )
    try:
        await watcher.start()
        await queries.start()
        await wait_for_ingress(app)
        harness = Harness(app, clock, bootstrap, watcher, producer, queries, sim)
        yield harness
    finally:
        await queries.stop()
        await watcher.stop()
        await producer.stop()
        await app.runtime.stop()


async def wait_for_ingress(app: BillingApp) -> None:
    url = f"http://127.0.0.1:{app.billing.settings.webhook_port}/healthz"

    async def up() -> bool:
        try:
            async with httpx.AsyncClient(timeout=1) as client:
                return (await client.get(url)).status_code == 200
        except httpx.HTTPError:
            return False

    await eventually(up, timeout=30, message="the webhook ingress")


async def ordered(h: Harness, **order: Any) -> Any:
    """Place an order (catalog seeded) and return its ``InvoiceIssued``."""
    await h.seed_catalog()
    before = len(h.watcher.of(BILLING_INVOICE, "billing.invoice.issued"))  # counted before sending
    await h.send(place_order(**order))
    issued = await h.wait(BILLING_INVOICE, "billing.invoice.issued", count=before + 1)
    return issued[-1]


async def payment_in(
    h: Harness, invoice_id: UUID, status: str, *, count: int = 1, company_id: UUID | None = None
) -> list[dict[str, Any]]:
    """Wait until the invoice shows ``count`` payments in ``status``; returns them."""
    found: list[dict[str, Any]] = []

    async def check() -> bool:
        nonlocal found
        invoice = await h.ask(
            "invoices.get", {"invoice_id": str(invoice_id)}, company_id=company_id or h.company_id
        )
        found = [p for p in invoice["payments"] if p["status"] == status]
        return len(found) >= count

    await eventually(check, timeout=40, message=f"a payment {status}")
    return found


async def active_service(
    h: Harness,
    *,
    plan: str = "basico",
    addons: tuple[str, ...] = (),
    card: str | None = "pm_card_visa",
    company_id: UUID | None = None,
) -> dict[str, Any]:
    """Order and pay a plan (by card when ``card``, else by a reconciled
    direct Pix); returns the plan's subscription as ``subscriptions.get`` shows it."""
    from hospeda.contracts import Money
    from hospeda.contracts.billing import PayInvoice, PaymentMethod, RecordPixPayment

    company = company_id or h.company_id
    await h.seed_catalog()
    order = place_order(plan=plan, addons=addons)
    await h.send(order, company_id=company)
    issued = (
        await h.wait(
            BILLING_INVOICE, "billing.invoice.issued", where=lambda p: p.order_id == order.order_id
        )
    )[0]
    if card:
        await h.send(
            PayInvoice(
                invoice_id=issued.invoice_id, method=PaymentMethod.CARD, payment_method_ref=card
            ),
            company_id=company,
        )
    else:
        await h.send(
            PayInvoice(invoice_id=issued.invoice_id, method=PaymentMethod.PIX), company_id=company
        )
        (pix,) = await payment_in(h, issued.invoice_id, "requires_action", company_id=company)
        await h.send(
            RecordPixPayment(
                invoice_id=issued.invoice_id,
                txid=pix["provider_reference"],
                amount=Money(amount=issued.total.amount),
            ),
            company_id=company,
            actor=STAFF,
        )
    await h.wait(
        BILLING_INVOICE, "billing.invoice.paid", where=lambda p: p.invoice_id == issued.invoice_id
    )
    (activated,) = await h.wait(
        BILLING_SUBSCRIPTION,
        "billing.subscription.activated",
        where=lambda p: p.domain == order.domain and p.kind == "plan",
    )
    return await h.ask(
        "subscriptions.get", {"subscription_id": str(activated.subscription_id)}, company_id=company
    )  # type: ignore[no-any-return]
