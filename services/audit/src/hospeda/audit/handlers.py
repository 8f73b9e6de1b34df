"""What the audit service consumes: every topic, one entry per message; and
the queries ``entries.list`` and ``log.verify`` (the operators' ``hospeda audit verify``)."""

from __future__ import annotations

from typing import Any

from hospeda.audit.queries import Reader
from hospeda.audit.service import AuditLog
from hospeda.audit.verify import verify_log
from hospeda.contracts import ActorKind, Envelope
from hospeda.contracts.topics import AUDIT_LOG, QUERY_TOPICS, TOPICS
from hospeda.runtime.errors import Forbidden
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

    @router.query("log.verify")
    async def verify(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        """Recompute every hash, chain link, root and signature (staff only)."""
        if ctx.actor.kind is not ActorKind.STAFF:
            raise Forbidden("só a equipe verifica o registro / only staff verify the log")
        company = params.get("company")
        report = await verify_log(
            log.db, log.keyring.verify, company=str(company) if company else None
        )
        return {
            "ok": report.ok,
            "entries": report.entries,
            "checkpoints": report.checkpoints,
            "tree_size": report.tree_size,
            "root_hash": report.root_hash,
            "problems": [p.text() for p in report.problems],
            "summary": report.summary(),
        }

    return router
