"""What the audit service consumes: every topic, one entry per message; and
the ``entries.list`` query."""

from __future__ import annotations

from typing import Any

from hospeda.audit.queries import Reader
from hospeda.audit.service import AuditLog
from hospeda.contracts import Envelope
from hospeda.contracts.topics import AUDIT_LOG, QUERY_TOPICS, TOPICS
from hospeda.runtime.messaging import MessageContext, MessageRouter, QueryContext

AUDITED_TOPICS = [t for t in TOPICS if t not in QUERY_TOPICS.values() and t is not AUDIT_LOG]
"""Every topic but the queries and the log's own (its entries are written directly)."""


def build_router(log: AuditLog, reader: Reader) -> MessageRouter:
    router = MessageRouter("audit")

    @router.on_every(*AUDITED_TOPICS)
    async def record(message: Envelope[Any], ctx: MessageContext) -> None:
        log.record(ctx)

    @router.query("entries.list")
    async def list_entries(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        return await reader.list_entries(params, ctx)

    return router
