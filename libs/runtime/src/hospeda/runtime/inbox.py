"""The inbox: ids of messages a consumer has applied, written in the same
transaction as the effect, so a redelivered message changes nothing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts import utcnow
from hospeda.runtime.models import InboxMessage

_table = InboxMessage.__table__  # type: ignore[attr-defined]


async def claim(session: AsyncSession, consumer: str, message_ids: Iterable[UUID]) -> set[UUID]:
    """Record ``message_ids`` as processed by ``consumer``; returns the ones
    that were new (the others are redeliveries to skip). One statement."""
    ids = list(dict.fromkeys(message_ids))
    if not ids:
        return set()
    now = utcnow()
    rows = [{"consumer": consumer, "message_id": mid, "processed_at": now} for mid in ids]
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    insert = postgresql.insert(_table) if dialect == "postgresql" else sqlite.insert(_table)
    statement = insert.values(rows).on_conflict_do_nothing().returning(_table.c.message_id)
    result = await session.execute(statement)
    return set(result.scalars().all())


async def prune(
    session: AsyncSession, *, older_than: timedelta, now: datetime | None = None
) -> int:
    """Forget processed ids older than the redelivery window."""
    cutoff = (now or utcnow()) - older_than
    result = await session.execute(sa.delete(_table).where(_table.c.processed_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
