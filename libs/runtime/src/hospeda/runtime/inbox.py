"""The inbox: ids of messages a consumer has applied, written in the same
transaction as the effect, so a redelivered message changes nothing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts import utcnow
from hospeda.runtime.db import dialect_of
from hospeda.runtime.models import InboxMessage
from hospeda.runtime.types import UtcDateTime

_table = InboxMessage.__table__  # type: ignore[attr-defined]


async def claim(session: AsyncSession, consumer: str, message_ids: Iterable[UUID]) -> set[UUID]:
    """Record ``message_ids`` as processed by ``consumer``; returns the ones
    that were new (the others are redeliveries to skip). One statement."""
    ids = list(dict.fromkeys(message_ids))
    if not ids:
        return set()
    now = utcnow()
    if dialect_of(session) == "postgresql":
        # one array parameter instead of three per row: cheap to build and to send
        result = await session.execute(
            _CLAIM_POSTGRES, {"consumer": consumer, "ids": ids, "now": now}
        )
        return set(result.scalars().all())
    rows = [{"consumer": consumer, "message_id": mid, "processed_at": now} for mid in ids]
    statement = (
        sqlite.insert(_table).values(rows).on_conflict_do_nothing().returning(_table.c.message_id)
    )
    return set((await session.execute(statement)).scalars().all())


_CLAIM_POSTGRES = sa.text(
    "INSERT INTO inbox_message (consumer, message_id, processed_at) "
    "SELECT :consumer, unnest(CAST(:ids AS uuid[])), :now "
    "ON CONFLICT DO NOTHING RETURNING message_id"
).bindparams(sa.bindparam("now", type_=UtcDateTime()))


async def prune(
    session: AsyncSession, *, older_than: timedelta, now: datetime | None = None
) -> int:
    """Forget processed ids older than the redelivery window."""
    cutoff = (now or utcnow()) - older_than
    result = await session.execute(sa.delete(_table).where(_table.c.processed_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
