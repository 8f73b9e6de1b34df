"""What the audit service consumes: every topic, one entry per message."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa

from hospeda.audit.domain import GENESIS, describe, entry_hash
from hospeda.audit.models import AuditEntry, ChainHead
from hospeda.contracts import ActorKind, Envelope, utcnow
from hospeda.contracts.topics import QUERY_TOPICS, TOPICS
from hospeda.runtime.errors import PermanentError
from hospeda.runtime.messaging import MessageContext, MessageRouter, QueryContext, current_trace_id

AUDITED_TOPICS = [t for t in TOPICS if t not in QUERY_TOPICS.values()]


def build_router() -> MessageRouter:
    router = MessageRouter("audit")

    @router.on_every(*AUDITED_TOPICS)
    async def record(message: Envelope[Any], ctx: MessageContext) -> None:
        facts = describe(message, topic=ctx.delivery.topic, key=ctx.delivery.key)
        head = await ctx.session.get(ChainHead, facts["chain"], with_for_update=True)
        prev_hash = head.last_hash if head else GENESIS
        digest = entry_hash(prev_hash, facts)
        entry = AuditEntry(
            **facts,
            recorded_at=utcnow(),
            trace_id=current_trace_id(),
            prev_hash=prev_hash,
            hash=digest,
        )
        ctx.session.add(entry)
        await ctx.session.flush()
        if head is None:
            ctx.session.add(ChainHead(chain=facts["chain"], last_seq=entry.seq, last_hash=digest))
        else:
            head.last_seq, head.last_hash = entry.seq, digest  # type: ignore[assignment]

    @router.query("entries.list")
    async def list_entries(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        """A company's entries, oldest first; ``cursor`` is the last ``seq`` seen.
        Without a company only staff may read (the whole platform)."""
        if ctx.company_id is None and ctx.actor.kind is not ActorKind.STAFF:
            raise PermanentError("company_id is required")
        limit = max(1, min(int(params.get("limit", 100)), 500))
        statement = sa.select(AuditEntry).order_by(AuditEntry.seq).limit(limit + 1)  # type: ignore[arg-type]
        if params.get("correlation_id"):
            statement = statement.where(
                AuditEntry.correlation_id == _uuid(params["correlation_id"])
            )
        if params.get("cursor"):
            statement = statement.where(AuditEntry.seq > _seq(params["cursor"]))  # type: ignore[operator]
        if ctx.company_id is not None:
            statement = statement.where(AuditEntry.company_id == ctx.company_id)
        rows = list((await ctx.session.execute(statement)).scalars().all())
        page = rows[:limit]
        return {
            "items": [
                {
                    "seq": row.seq,
                    "action": row.action,
                    "entity": row.entity,
                    "entity_id": row.entity_id,
                    "actor": {"kind": row.actor_kind, "id": row.actor_id},
                    "ip": row.ip,
                    "topic": row.topic,
                    "occurred_at": row.occurred_at.isoformat(),
                    "correlation_id": str(row.correlation_id),
                    "trace_id": row.trace_id,
                    "hash": row.hash,
                }
                for row in page
            ],
            "next_cursor": str(page[-1].seq) if len(rows) > limit else None,
        }

    return router


def _seq(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise PermanentError(f"not a cursor: {value!r}") from None


def _uuid(value: Any) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise PermanentError(f"not a UUID: {value!r}") from None
