"""The outbox relay: publishes committed outbox rows to Kafka, in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.runtime import metrics, outbox
from hospeda.runtime.db import Database, stable_lock_key
from hospeda.runtime.models import OutboxMessage

log = logging.getLogger(__name__)

_DELETE_POSTGRES = sa.text("DELETE FROM outbox_message WHERE seq = ANY(CAST(:seqs AS bigint[]))")


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
        self.service = service
        self.batch_size = batch_size
        self.idle_interval = idle_interval
        self._lock_key = stable_lock_key(f"outbox-relay:{service}")
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.published = 0
        db.after_commit(self._wake_if_written)

    def _wake_if_written(self, session: AsyncSession) -> None:
        if session.info.pop(outbox.WRITTEN, False):
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
                    sa.select(
                        table.c.seq, table.c.topic, table.c.key, table.c.value, table.c.headers
                    )
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
            sent = [row.seq for row in rows]
            if self.db.is_postgres:  # one array parameter: the same prepared statement every batch
                await session.execute(_DELETE_POSTGRES, {"seqs": sent})
            else:
                await session.execute(sa.delete(table).where(table.c.seq.in_(sent)))
        self.published += len(rows)
        for row in rows:
            kind = next((v for k, v in row.headers if k == "type"), "unknown")
            metrics.MESSAGES_PUBLISHED.labels(self.service, row.topic, kind).inc()
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
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.idle_interval)

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
