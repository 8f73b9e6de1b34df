"""Transactional outbox: a service writes its state change and the messages
announcing it in one transaction; the relay publishes them afterwards.

A crash between commit and publish loses nothing (the rows wait); a crash
between publish and delete re-sends them, and consumers' inboxes turn the
duplicate into a no-op.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from opentelemetry import propagate
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts import Envelope, Topic, encode, utcnow
from hospeda.runtime.db import Database, stable_lock_key
from hospeda.runtime.models import OutboxMessage

log = logging.getLogger(__name__)

_PENDING = "hospeda.outbox.pending"


def message_headers(envelope: Envelope[Any]) -> list[list[str]]:
    """Kafka headers for a message: routing facts plus the current trace context."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    headers = [
        ["content-type", "application/json"],
        ["type", envelope.type],
        ["message-id", str(envelope.id)],
        ["correlation-id", str(envelope.correlation_id)],
    ]
    headers.extend([k, v] for k, v in carrier.items())
    return headers


def topic_name(topic: Topic | str) -> str:
    return topic.name if isinstance(topic, Topic) else topic


def add(session: AsyncSession, envelope: Envelope[Any], *, topic: Topic | str, key: str | UUID | None) -> None:
    """Queue ``envelope`` for publication when ``session``'s transaction commits.

    No I/O here: the rows of a transaction are written in one statement just
    before it commits (see ``install``).
    """
    pending: list[dict[str, Any]] = session.info.setdefault(_PENDING, [])
    pending.append(
        {
            "message_id": envelope.id,
            "topic": topic_name(topic),
            "key": str(key) if key is not None else None,
            "value": encode(envelope),
            "headers": message_headers(envelope),
            "created_at": utcnow(),
        }
    )


def pending_count(session: AsyncSession) -> int:
    return len(session.info.get(_PENDING, ()))


class OutboxRelay:
    """Publishes outbox rows in order, in batches, with ``acks=all``.

    One relay per service publishes at a time (a PostgreSQL advisory lock),
    so per-key order is kept even with several instances running.
    """

    def __init__(
        self,
        db: Database,
        producer: AIOKafkaProducer,
        *,
        service: str,
        batch_size: int = 2000,
        idle_interval: float = 0.2,
    ) -> None:
        self.db = db
        self.producer = producer
        self.batch_size = batch_size
        self.idle_interval = idle_interval
        self._lock_key = stable_lock_key(f"outbox-relay:{service}")
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.published = 0
        db.before_commit(self._write_pending)
        db.after_commit(self._wake_if_written)

    async def _write_pending(self, session: AsyncSession) -> None:
        pending = session.info.get(_PENDING)
        if pending:
            await session.execute(sa.insert(OutboxMessage), pending)
            session.info["hospeda.outbox.written"] = True
            session.info[_PENDING] = []

    def _wake_if_written(self, session: AsyncSession) -> None:
        if session.info.pop("hospeda.outbox.written", False):
            self._wakeup.set()

    def wake(self) -> None:
        self._wakeup.set()

    async def publish_batch(self) -> int:
        """Publish up to ``batch_size`` rows; returns how many were sent."""
        async with self.db.transaction() as session:
            if not await self.db.advisory_xact_lock(session, self._lock_key, wait=False):
                return 0
            table = OutboxMessage.__table__  # type: ignore[attr-defined]
            rows = (
                await session.execute(
                    sa.select(table.c.seq, table.c.topic, table.c.key, table.c.value, table.c.headers)
                    .order_by(table.c.seq)
                    .limit(self.batch_size)
                )
            ).all()
            if not rows:
                return 0
            deliveries = [
                await self.producer.send(
                    row.topic,
                    row.value,
                    key=row.key.encode() if row.key is not None else None,
                    headers=[(k, v.encode()) for k, v in row.headers],
                )
                for row in rows
            ]
            await asyncio.gather(*deliveries)
            await session.execute(sa.delete(table).where(table.c.seq.in_([row.seq for row in rows])))
        self.published += len(rows)
        return len(rows)

    async def run(self) -> None:
        """Publish until stopped; back off when the broker or database fails."""
        failures = 0
        while not self._stopping:
            self._wakeup.clear()  # before the batch, so a commit during it wakes the next one
            try:
                sent = await self.publish_batch()
                failures = 0
            except Exception:
                failures += 1
                log.exception("outbox relay failed; retrying", extra={"failures": failures})
                await asyncio.sleep(min(0.2 * 2**failures, 10.0))
                continue
            if sent < self.batch_size and not self._stopping:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), self.idle_interval)
                except TimeoutError:
                    pass

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in flight, then stop; unsent rows wait for the next start."""
        if self._task is None:
            return
        self._stopping = True
        self._wakeup.set()
        try:
            await asyncio.wait_for(self._task, timeout)
        except TimeoutError:
            log.warning("outbox relay did not stop in %.0fs; cancelling", timeout)
        finally:
            self._task = None
