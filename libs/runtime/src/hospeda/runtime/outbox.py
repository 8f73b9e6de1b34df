"""Transactional outbox: a service writes its state change and the messages
announcing it in one transaction; the relay publishes them afterwards.

A crash between commit and publish loses nothing (the rows wait); a crash
between publish and delete re-sends them, and consumers' inboxes turn the
duplicate into a no-op.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from opentelemetry import propagate
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts import Envelope, Topic, encode, utcnow
from hospeda.runtime.models import OutboxMessage

_PENDING = "hospeda.outbox.pending"
WRITTEN = "hospeda.outbox.written"


def message_headers(
    envelope: Envelope[Any], trace_context: dict[str, str] | None = None
) -> list[list[str]]:
    """Kafka headers for a message: routing facts plus the trace context —
    the current one, or ``trace_context`` when the work belongs to another
    trace (a job's outcome, committed by its worker's loop)."""
    carrier: dict[str, str] = {}
    if trace_context is None:
        propagate.inject(carrier)
    else:
        carrier = trace_context
    headers = [
        ["content-type", "application/json"],
        ["type", envelope.type],
        ["message-id", str(envelope.id)],
        ["correlation-id", str(envelope.correlation_id)],
    ]
    headers.extend([k, v] for k, v in carrier.items())
    return headers


_OUTBOX_TABLE: sa.Table = OutboxMessage.__table__  # type: ignore[attr-defined]


def topic_name(topic: Topic | str) -> str:
    return topic.name if isinstance(topic, Topic) else topic


def add(
    session: AsyncSession,
    envelope: Envelope[Any],
    *,
    topic: Topic | str,
    key: str | UUID | None,
    trace_context: dict[str, str] | None = None,
) -> None:
    """Queue ``envelope`` for publication when ``session``'s transaction commits.

    No I/O here: the rows of a transaction are written in one statement just
    before it commits (``write_pending``, called by ``Database.transaction``).
    """
    pending: list[dict[str, Any]] = session.info.setdefault(_PENDING, [])
    pending.append(
        {
            "message_id": envelope.id,
            "topic": topic_name(topic),
            "key": str(key) if key is not None else None,
            "value": encode(envelope),
            "headers": message_headers(envelope, trace_context),
            "created_at": utcnow(),
        }
    )


def pending_count(session: AsyncSession) -> int:
    return len(session.info.get(_PENDING, ()))


async def write_pending(session: AsyncSession) -> None:
    """Insert the transaction's queued messages in one statement."""
    pending = session.info.get(_PENDING)
    if pending:
        # a Core insert of the table: plain executemany, no ORM bulk bookkeeping
        await session.execute(sa.insert(_OUTBOX_TABLE), pending)
        session.info[WRITTEN] = True
        session.info[_PENDING] = []
