"""Helpers for provisioning's tests: simulated WHM servers, the service
running against the real broker and database, commands in, events out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import SecretStr

from hospeda.contracts import Actor, ActorKind, Envelope, Payload, Topic, decode, new_id
from hospeda.contracts.provisioning import CreateAccount
from hospeda.contracts.topics import PROVISIONING_COMMANDS
from hospeda.devstack.testing import eventually
from hospeda.provisioning.app import Provisioning, create_app
from hospeda.provisioning.config import ProvisioningSettings, WhmServerSettings
from hospeda.provisioning.models import HostedService
from hospeda.provisioning.simulator import SimulatorControl, SimulatorServer, WhmSimulator
from hospeda.runtime.broker import publish
from hospeda.runtime.clock import Clock
from hospeda.runtime.models import Job, JobLog
from hospeda.runtime.rpc import QueryClient

BILLING = Actor.system("billing")
STAFF = Actor(kind=ActorKind.STAFF, id="staff-1")
CUSTOMER = Actor(kind=ActorKind.USER, id="user-1")
PACKAGE = "hospeda_basico"


@dataclass
class Whm:
    """A simulated WHM server running in the test's event loop."""

    name: str
    token: str
    server: SimulatorServer
    control: SimulatorControl

    @property
    def url(self) -> str:
        return self.server.url

    def settings(self, **overrides: Any) -> WhmServerSettings:
        values: dict[str, Any] = {
            "name": self.name,
            "url": self.url,
            "token": SecretStr(self.token),
            "packages": ("default", PACKAGE, "hospeda_profissional"),
            "max_accounts": 100,
            "concurrency": 4,
            **overrides,
        }
        return WhmServerSettings(**values)

    async def accounts(self) -> dict[str, dict[str, Any]]:
        return await self.control.accounts()

    async def calls(self, function: str) -> int:
        return int((await self.control.calls()).get(function, 0))


@asynccontextmanager
async def simulated_whm(name: str, **state: Any) -> AsyncIterator[Whm]:
    from hospeda.provisioning.simulator import WhmState

    token = f"token-{name}-{new_id().hex}"
    simulator = WhmSimulator(WhmState(autossl_seconds=0.05, **state), token=token)
    server = SimulatorServer(simulator)
    await server.start()
    try:
        yield Whm(name, token, server, SimulatorControl(server.url))
    finally:
        await server.stop()


@pytest.fixture
async def whm() -> AsyncIterator[Whm]:
    async with simulated_whm("whm1") as server:
        yield server


def make_settings(
    database_url: str, kafka_bootstrap: str, servers: list[WhmServerSettings], **extra: Any
) -> ProvisioningSettings:
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "HOSPEDA_ENV": "test",
        "HOSPEDA_LOG_JSON": False,
        "HOSPEDA_KAFKA_SESSION_TIMEOUT_MS": 2000,
        "HOSPEDA_TOPIC_PARTITIONS": 3,
        "whm_servers": tuple(servers),
        "retry_base_delay_s": 0.2,
        "retry_jitter": 0.0,
        "whm_timeout_s": 5.0,
        "whm_create_timeout_s": 5.0,
        "autossl_poll_s": 0.02,
        "autossl_wait_s": 5.0,
        "job_poll_interval_s": 0.02,
        **extra,
    }
    return ProvisioningSettings(**values)


@asynccontextmanager
async def running(
    settings: ProvisioningSettings, *, clock: Clock | None = None
) -> AsyncIterator[Provisioning]:
    app = create_app(settings, clock=clock)
    await app.runtime.start()
    try:
        yield app
    finally:
        await app.runtime.stop()


class Bus:
    """Commands in (as billing, staff or a customer would send them), events
    and replies out, over the real broker."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=False
        )
        self.client: QueryClient | None = None

    async def start(self) -> None:
        await self.producer.start()
        self.client = QueryClient(
            bootstrap_servers=self.bootstrap,
            producer=self.producer,
            instance_id=f"test-{new_id().hex[:8]}",
            timeout=10,
        )
        await self.client.start()

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.stop()
        await self.producer.stop()

    async def send(
        self,
        payload: Payload,
        *,
        company_id: UUID | None,
        actor: Actor = BILLING,
        topic: Topic = PROVISIONING_COMMANDS,
        key: Any = None,
    ) -> Envelope[Any]:
        envelope = Envelope.of(payload, actor=actor, company_id=company_id)
        await self.resend(envelope, topic=topic, key=key)
        return envelope

    async def resend(
        self, envelope: Envelope[Any], *, topic: Topic = PROVISIONING_COMMANDS, key: Any = None
    ) -> None:
        await publish(
            self.producer,
            envelope,
            topic=topic,
            key=key or getattr(envelope.payload, "service_id", None),
        )

    async def ask(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        *,
        company_id: UUID | None,
        actor: Actor = CUSTOMER,
    ) -> Any:
        assert self.client is not None
        return await self.client.ask(
            "provisioning", name, params or {}, actor=actor, company_id=company_id
        )


@pytest.fixture
async def bus(kafka_bootstrap: str) -> AsyncIterator[Bus]:
    client = Bus(kafka_bootstrap)
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


@dataclass
class Topics:
    """Everything published on some topics since the test began."""

    bootstrap: str
    names: list[str]
    messages: list[tuple[str, Envelope[Any], bytes]] = field(default_factory=list)
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            group_id=None,
        )
        await self._consumer.start()
        await self._consumer.topics()  # fetch metadata for every topic
        partitions = [
            TopicPartition(name, p)
            for name in self.names
            for p in (self._consumer.partitions_for_topic(name) or {0})
        ]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning(*partitions)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            for records in batch.values():
                for record in records:
                    self.messages.append((record.topic, decode(record.value), record.value))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()

    def of(self, topic: str, type_: str | None = None, **fields: Any) -> list[Envelope[Any]]:
        found = []
        for name, envelope, _ in self.messages:
            if name != topic or (type_ and envelope.type != type_):
                continue
            if all(getattr(envelope.payload, k, None) == v for k, v in fields.items()):
                found.append(envelope)
        return found

    async def wait(
        self, topic: str, type_: str, *, count: int = 1, timeout: float = 20.0, **fields: Any
    ) -> list[Envelope[Any]]:
        await eventually(
            lambda: len(self.of(topic, type_, **fields)) >= count,
            timeout=timeout,
            message=f"{count}× {type_} on {topic} {fields or ''}",
        )
        return self.of(topic, type_, **fields)


@asynccontextmanager
async def watching(bootstrap: str, *topics: Topic | str) -> AsyncIterator[Topics]:
    names = [t.name if isinstance(t, Topic) else t for t in topics]
    # make sure they exist before we assign partitions
    from hospeda.runtime.broker import ensure_topics

    await ensure_topics(bootstrap, partitions=3, replication=1)
    reader = Topics(bootstrap, names)
    await reader.start()
    try:
        yield reader
    finally:
        await reader.stop()


def create_command(
    domain: str = "exemplo.com.br", *, package: str = PACKAGE, plan: str = "basico", **fields: Any
) -> CreateAccount:
    return CreateAccount(
        service_id=fields.pop("service_id", new_id()),
        domain=domain,
        plan_code=plan,
        whm_package=package,
        contact_email=fields.pop("contact_email", "dono@exemplo.com.br"),
        **fields,
    )


async def service_row(app: Provisioning, service_id: UUID) -> HostedService | None:
    async with app.db.transaction() as session:
        result = await session.execute(
            sa.select(HostedService).where(HostedService.service_id == service_id)
        )  # type: ignore[arg-type]
        return result.scalars().first()


async def wait_state(
    app: Provisioning, service_id: UUID, state: str, *, timeout: float = 30.0
) -> HostedService:
    async def reached() -> bool:
        row = await service_row(app, service_id)
        return row is not None and row.state == state

    await eventually(reached, timeout=timeout, message=f"service {service_id} to be {state}")
    row = await service_row(app, service_id)
    assert row is not None
    return row


async def jobs_of(app: Provisioning, service_id: UUID, kind: str | None = None) -> list[Job]:
    """The service's jobs, in order (keyed ones, and unkeyed ones about it)."""
    async with app.db.transaction() as session:
        statement = sa.select(Job).order_by(Job.seq)  # type: ignore[arg-type]
        if kind:
            statement = statement.where(Job.kind == kind)  # type: ignore[arg-type]
        jobs = (await session.execute(statement)).scalars()
        return [j for j in jobs if j.payload.get("service_id") == str(service_id)]


async def wait_job(
    app: Provisioning, service_id: UUID, kind: str, state: str, *, timeout: float = 30.0
) -> Job:
    async def reached() -> bool:
        return any(j.state == state for j in await jobs_of(app, service_id, kind))

    await eventually(reached, timeout=timeout, message=f"{kind} job of {service_id} to be {state}")
    return next(j for j in await jobs_of(app, service_id, kind) if j.state == state)


async def job_log(app: Provisioning, job_id: UUID) -> list[tuple[str | None, str, str]]:
    async with app.db.transaction() as session:
        rows = await session.execute(
            sa.select(JobLog).where(JobLog.job_id == job_id).order_by(JobLog.id)
        )  # type: ignore[arg-type]
        return [(line.step, line.status, line.message) for line in rows.scalars()]


def statuses(log: list[tuple[str | None, str, str]], step: str) -> list[str]:
    return [status for s, status, _ in log if s == step]


Check = Callable[[], Any]
