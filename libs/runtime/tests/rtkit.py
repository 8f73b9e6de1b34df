"""A tiny service used to exercise the runtime against the real broker and database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from hospeda.contracts import Actor, Envelope
from hospeda.contracts.audit import AuditRecord
from hospeda.contracts.topics import AUDIT_RECORDS
from hospeda.runtime.db import Database
from hospeda.runtime.errors import PermanentError
from hospeda.runtime.messaging import MessageContext, MessageRouter
from hospeda.runtime.settings import ServiceSettings


class RuntimeTestSettings(ServiceSettings):
    service_name = "rtsvc"


class EffectBase(SQLModel, registry=registry()):
    pass


class Effect(EffectBase, table=True):
    """One row per applied message — duplicates would show as extra rows."""

    id: int | None = Field(default=None, primary_key=True)
    message_id: UUID
    action: str


def make_settings(database_url: str, kafka_bootstrap: str, **extra: Any) -> RuntimeTestSettings:
    return RuntimeTestSettings(
        DATABASE_URL=database_url,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        HOSPEDA_ENV="test",
        HOSPEDA_LOG_JSON=False,
        HOSPEDA_KAFKA_SESSION_TIMEOUT_MS=2000,
        HOSPEDA_TOPIC_PARTITIONS=3,
        **extra,
    )


def audit_router() -> MessageRouter:
    router = MessageRouter("rtsvc")

    @router.on(AUDIT_RECORDS, AuditRecord)
    async def record(message: Envelope[Any], ctx: MessageContext) -> None:
        action = message.payload.action
        if action == "explode":
            raise PermanentError("this record can never be applied")
        if action == "bug":
            raise RuntimeError("a bug in the handler")
        ctx.session.add(Effect(message_id=message.id, action=action))

    return router


def audit_message(action: str = "test.action", **fields: Any) -> Envelope[AuditRecord]:
    return Envelope.of(
        AuditRecord(action=action, entity="thing", **fields), actor=Actor.system("test")
    )


async def create_effects(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(EffectBase.metadata.create_all)


async def effects(db: Database) -> list[Effect]:
    async with db.transaction() as session:
        return list((await session.execute(sa.select(Effect).order_by(Effect.id))).scalars())  # type: ignore[arg-type]


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=False
    )
    await client.start()
    yield client
    await client.stop()


async def read_topic(
    bootstrap: str, topic: str, *, expect: int, timeout: float = 15.0
) -> list[Any]:
    """Read ``expect`` records of ``topic`` from its start (or fail after ``timeout``)."""
    import asyncio

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < expect and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for items in batch.values():
                records.extend(items)
    finally:
        await consumer.stop()
    return records


class Execution(EffectBase, table=True):
    """One row per time a job's handler ran to its end."""

    id: int | None = Field(default=None, primary_key=True)
    job_id: UUID
    worker: str


def job_engine_for_tests(
    db: Database, *, worker_label: str = "in-process", slow_seconds: float = 0.0, clock: Any = None
) -> Any:
    """An engine with the job kinds the multi-process tests use."""
    from hospeda.contracts.topics import job_topic
    from hospeda.runtime.jobs import JobContext, JobEngine, RetryPolicy

    engine = JobEngine(db, service="rtsvc", job_topic=job_topic("provisioning"), clock=clock)

    @engine.kind(
        "record",
        queue="test",
        policy=RetryPolicy(max_attempts=3, base_delay=timedelta(milliseconds=100)),
    )
    async def record(ctx: JobContext) -> None:
        async with ctx.transaction() as session:
            session.add(Execution(job_id=ctx.job.id, worker=worker_label))

    @engine.kind(
        "slow",
        queue="test",
        policy=RetryPolicy(max_attempts=3, base_delay=timedelta(milliseconds=100)),
    )
    async def slow(ctx: JobContext) -> None:
        import asyncio

        await ctx.step("wait", lambda: asyncio.sleep(slow_seconds))
        async with ctx.transaction() as session:
            session.add(Execution(job_id=ctx.job.id, worker=worker_label))

    return engine
