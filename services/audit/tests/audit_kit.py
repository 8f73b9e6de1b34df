"""Test kit of the audit service: the service started in-process on the real
broker and database, messages sent to it over Kafka, its queries answered by
the same handler the consumer uses, the CLI run in-process, and a superuser's
hand on the database for tampering."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hospeda.audit import cli
from hospeda.audit.app import build
from hospeda.audit.config import AuditSettings
from hospeda.audit.keys import private_key_pem
from hospeda.audit.service import AuditLog
from hospeda.audit.verify import Report, verify_log
from hospeda.contracts import Actor, ActorKind, Envelope, Payload, Topic, decode
from hospeda.contracts.audit import AuditRecord
from hospeda.contracts.queries import Query
from hospeda.contracts.topics import AUDIT_RECORDS
from hospeda.devstack.testing import eventually
from hospeda.runtime.broker import publish
from hospeda.runtime.clock import Clock
from hospeda.runtime.db import Database
from hospeda.runtime.messaging import QueryContext
from hospeda.runtime.service import ServiceRuntime

OWNER = Actor(kind=ActorKind.USER, id=str(uuid4()))
AUDITOR = Actor(kind=ActorKind.STAFF, id="auditor-1")
IP = "203.0.113.7"


def new_signing_key() -> str:
    return private_key_pem(Ed25519PrivateKey.generate())


def audit_settings(*, database_url: str, kafka_bootstrap: str, **overrides: Any) -> AuditSettings:
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "HOSPEDA_ENV": "test",
        "HOSPEDA_LOG_JSON": False,
        "HOSPEDA_KAFKA_SESSION_TIMEOUT_MS": 2000,
        "HOSPEDA_TOPIC_PARTITIONS": 2,
        "signing_key": new_signing_key(),
        "data_key": Fernet.generate_key().decode(),
    }
    values.update(overrides)
    return AuditSettings(**values)


@dataclass
class Audit:
    """A running audit service plus what tests need around it."""

    runtime: ServiceRuntime
    log: AuditLog
    settings: AuditSettings
    producer: AIOKafkaProducer
    database_url: str
    company_id: UUID = field(default_factory=uuid4)

    @property
    def db(self) -> Database:
        return self.runtime.db

    async def send(
        self,
        payload: Payload,
        *,
        topic: Topic = AUDIT_RECORDS,
        key: Any = None,
        company_id: UUID | str | None = "own",
        actor: Actor = OWNER,
        ip: str | None = IP,
        envelope: Envelope[Any] | None = None,
    ) -> Envelope[Any]:
        company = self.company_id if company_id == "own" else company_id
        envelope = envelope or Envelope.of(payload, actor=actor, company_id=company, ip=ip)  # type: ignore[arg-type]
        await publish(self.producer, envelope, topic=topic, key=key or str(company or "platform"))
        return envelope

    async def record(self, action: str = "invoice.refund", **fields: Any) -> Envelope[Any]:
        return await self.send(
            AuditRecord(action=action, entity=fields.pop("entity", "invoice"), **fields)
        )

    async def count(self) -> int:
        async with self.db.read() as connection:
            return int(
                (await connection.execute(sa.text("SELECT count(*) FROM audit_entry"))).scalar()
                or 0
            )

    async def wait_entries(self, at_least: int, *, timeout: float = 20) -> None:
        async def enough() -> bool:
            return await self.count() >= at_least

        await eventually(enough, timeout=timeout, message=f"{at_least} audit entries")

    async def query(
        self,
        params: dict[str, Any] | None = None,
        *,
        company_id: UUID | str | None = "own",
        actor: Actor = OWNER,
        name: str = "entries.list",
    ) -> Any:
        """Answer a query the way the consumer does (same handler, one transaction)."""
        handler = self.runtime.router.queries[name]
        envelope = Envelope.of(
            Query(name=name, params=params or {}),
            actor=actor,
            company_id=self.company_id if company_id == "own" else company_id,  # type: ignore[arg-type]
            ip=IP,
        )
        async with self.db.transaction() as session:
            return await handler(dict(params or {}), QueryContext(session, envelope))

    async def verify(self, *, company: str | None = None) -> Report:
        return await verify_log(self.db, self.log.keyring.verify, company=company)

    async def cli(self, *argv: str, settings: AuditSettings | None = None) -> tuple[int, str]:
        """``python -m hospeda.audit …`` in-process: exit code and what it printed."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = await cli.run(list(argv), settings or self.settings)
        return code, out.getvalue()

    async def cli_json(self, *argv: str) -> Any:
        code, printed = await self.cli(*argv)
        assert code == 0, printed
        return json.loads(printed)

    async def raw(self, sql: str, **params: Any) -> list[Any]:
        """Run SQL as the database's superuser (the test database's owner)."""
        engine = sa.ext.asyncio.create_async_engine(self.db.url)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(sa.text(sql), params)
                return list(result.mappings()) if result.returns_rows else []
        finally:
            await engine.dispose()

    async def tamper(self, *statements: str) -> None:
        """What a database superuser can do: drop the append-only triggers, run
        ``statements``, and put the triggers back as they were."""
        table = "audit_entry"
        if self.is_postgres:
            drop = [f"DROP TRIGGER {table}_append_only ON {table}"]
            restore = [
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
                f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_append_only",
            ]
        else:
            drop = [f"DROP TRIGGER {table}_no_update", f"DROP TRIGGER {table}_no_delete"]
            restore = [
                f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} BEGIN "
                f"SELECT RAISE(ABORT, 'the audit log is append-only: {op} on {table} refused'); END"
                for op in ("UPDATE", "DELETE")
            ]
        engine = sa.ext.asyncio.create_async_engine(self.db.url)
        try:
            async with engine.begin() as connection:
                for statement in (*drop, *statements, *restore):
                    await connection.execute(sa.text(statement))
        finally:
            await engine.dispose()

    async def entry_ids(self) -> list[str]:
        rows = await self.raw("SELECT id FROM audit_entry ORDER BY leaf_index")
        return [str(UUID(str(row["id"]))) for row in rows]

    async def stored_text(self) -> str:
        """Every table of the audit database, as text (to scan for secrets)."""
        tables = [
            "audit_entry",
            "audit_entry_subject",
            "audit_checkpoint",
            "audit_subject",
            "audit_subject_alias",
            "audit_subject_key",
            "audit_log_head",
            "audit_chain_head",
        ]
        chunks = []
        for table in tables:
            for row in await self.raw(f"SELECT * FROM {table}"):
                chunks.append(json.dumps(dict(row), default=str, ensure_ascii=False))
        return "\n".join(chunks)

    @property
    def is_postgres(self) -> bool:
        return self.db.is_postgres


async def read_all(bootstrap: str, topic: str) -> list[Envelope[Any]]:
    """Every message on ``topic`` so far (read from the broker)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=1000)
        return [decode(r.value) for records in batches.values() for r in records]
    finally:
        await consumer.stop()


StartAudit = Callable[..., Awaitable[Audit]]


@pytest.fixture
async def start_audit(database_url: str, kafka_bootstrap: str) -> AsyncIterator[StartAudit]:
    """``audit = await start_audit(clock=…, **settings)``: the service, running."""
    running: list[Audit] = []
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=False
    )
    await producer.start()

    async def start(*, clock: Clock | None = None, **overrides: Any) -> Audit:
        settings = audit_settings(
            database_url=database_url, kafka_bootstrap=kafka_bootstrap, **overrides
        )
        runtime, log = build(settings, clock=clock)
        await runtime.start()
        audit = Audit(runtime, log, settings, producer, database_url)
        running.append(audit)
        return audit

    try:
        yield start
    finally:
        for audit in running:
            await audit.runtime.stop()
        await producer.stop()
