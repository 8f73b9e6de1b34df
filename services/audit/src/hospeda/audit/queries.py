"""Reading the log (request/reply): a company's entries for its owners and
admins or a staff auditor acting on it (the gateway decides who may ask),
platform-wide only for staff. Every read is itself an entry.

An item carries what a client needs to check it alone: ``record`` (the exact
canonical text that was hashed), ``hash``, ``prev_hash``, ``seq`` and
``leaf_index``, and the first signed checkpoint that covers it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.audit import repository
from hospeda.audit.domain import canonical
from hospeda.audit.models import AuditEntry, Checkpoint
from hospeda.audit.privacy import KeyLookup, open_all, open_text, parse_marker
from hospeda.audit.service import AuditLog
from hospeda.audit.subjects import KeyId
from hospeda.audit.verify import record_of
from hospeda.contracts import ActorKind
from hospeda.runtime.errors import Forbidden, PermanentError
from hospeda.runtime.messaging import QueryContext

MAX_LIMIT = 200
FILTERS = ("actor_id", "action", "entity", "entity_id", "correlation_id", "since", "until")


class Reader:
    """The ``entries.list`` query and the views it returns."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log

    async def list_entries(self, params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        """Entries oldest first; ``cursor`` is the last ``leaf_index`` seen.
        ``export`` (``csv`` or ``json``) records the read as an export."""
        if ctx.company_id is None and ctx.actor.kind is not ActorKind.STAFF:
            raise Forbidden("escolha uma empresa / choose a company")
        limit = max(1, min(_int(params.get("limit", 50), "limit"), MAX_LIMIT))
        filters = repository.Filters(
            chain=str(ctx.company_id) if ctx.company_id else None,
            actor_id=_str(params.get("actor_id")),
            action=_str(params.get("action")),
            entity=_str(params.get("entity")),
            entity_id=_str(params.get("entity_id")),
            correlation_id=_uuid(params.get("correlation_id")),
            since=_time(params.get("since"), "since"),
            until=_time(params.get("until"), "until"),
            after_leaf=_int(params["cursor"], "cursor") if params.get("cursor") else None,
            visible_since=self.visible_since(),
        )
        rows = await repository.entries(ctx.session, filters, limit=limit + 1)
        page = rows[:limit]
        items = await self.views(ctx, page)
        export = params.get("export")
        self.log.queue(
            ctx.session,
            self.log.own_draft(
                actor=ctx.actor,
                cause=ctx.query,
                company_id=ctx.company_id,
                ip=ctx.query.ip,
                action="audit.export" if export else "audit.read",
                entity="audit_trail",
                entity_id=str(ctx.company_id) if ctx.company_id else None,
                after={
                    "filters": {k: params[k] for k in FILTERS if params.get(k) is not None},
                    "cursor": params.get("cursor"),
                    "returned": len(items),
                    **({"format": str(export)[:10]} if export else {}),
                },
            ),
        )
        return {
            "items": items,
            "next_cursor": str(page[-1].leaf_index) if len(rows) > limit else None,
        }

    def visible_since(self) -> dict[str, datetime]:
        now = self.log.clock.now()
        return {
            category: now - timedelta(days=days)
            for category, days in self.log.settings.retention_days.items()
        }

    async def views(self, ctx: QueryContext, page: list[AuditEntry]) -> list[dict[str, Any]]:
        if not page:
            return []
        opener = await self.opener(ctx, page)
        checkpoints = await repository.covering_checkpoints(
            ctx.session, page[0].leaf_index, page[-1].leaf_index
        )
        return [view(entry, opener, _covering(checkpoints, entry.leaf_index)) for entry in page]

    async def opener(self, ctx: QueryContext, page: list[AuditEntry]) -> KeyLookup:
        return await opener_for(self.log, ctx.session, page)


async def opener_for(log: AuditLog, session: AsyncSession, page: list[AuditEntry]) -> KeyLookup:
    """The keys that open the markers of ``page`` (those not destroyed)."""
    wanted: set[KeyId] = set()
    for entry in page:
        for text in _sealed_texts(entry):
            marker = parse_marker(text)
            if marker is not None:
                wanted.add((marker.subject, marker.category, marker.period))
    return await log.subjects.lookup(session, wanted)


def view(
    entry: AuditEntry,
    opener: KeyLookup,
    covering: Checkpoint | None,
    only: set[UUID] | None = None,
) -> dict[str, Any]:
    """One entry as readers see it: personal values opened where their keys
    still exist (``only``: just these subjects'), plus everything needed to
    verify it."""
    record = record_of(entry)

    def opened(text: str | None) -> Any:
        return open_all(json.loads(text), opener, only) if text else None

    return {
        "id": str(entry.id),
        "leaf_index": entry.leaf_index,
        "chain": entry.chain,
        "seq": entry.seq,
        "company_id": str(entry.company_id) if entry.company_id else None,
        "occurred_at": record["occurred_at"],
        "recorded_at": record["recorded_at"],
        "actor": {"kind": entry.actor_kind, "id": entry.actor_id},
        "action": entry.action,
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "before": opened(entry.before),
        "after": opened(entry.after),
        "ip": open_text(entry.ip, opener, only) if entry.ip else None,
        "user_agent": open_text(entry.user_agent, opener, only) if entry.user_agent else None,
        "topic": entry.topic,
        "correlation_id": str(entry.correlation_id),
        "causation_id": str(entry.causation_id) if entry.causation_id else None,
        "trace_id": entry.trace_id,
        "category": entry.category,
        "hash": entry.hash,
        "prev_hash": entry.prev_hash,
        "record": canonical(record).decode(),
        "checkpoint": checkpoint_view(covering) if covering else None,
    }


def checkpoint_view(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "number": checkpoint.number,
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "issued_at": checkpoint.issued_at.isoformat().replace("+00:00", "Z"),
        "key_id": checkpoint.key_id,
        "public_key": checkpoint.public_key,
        "signature": checkpoint.signature,
        "note": checkpoint.note,
    }


def _covering(checkpoints: list[Checkpoint], leaf_index: int) -> Checkpoint | None:
    return next((c for c in checkpoints if c.tree_size > leaf_index), None)


def _sealed_texts(entry: AuditEntry) -> list[str]:
    texts = [t for t in (entry.ip, entry.user_agent) if t]
    for part in (entry.before, entry.after):
        if part:
            texts.extend(_strings(json.loads(part)))
    return texts


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)[:255]


def _int(value: Any, name: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise PermanentError(f"{name} inválido / invalid {name}: {str(value)[:40]!r}") from None


def _uuid(value: Any) -> UUID | None:
    if value in (None, ""):
        return None
    try:
        return UUID(str(value))
    except ValueError:
        raise PermanentError(f"não é um UUID / not a UUID: {str(value)[:40]!r}") from None


def _time(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise PermanentError(
            f"{name}: data inválida (ISO 8601) / invalid time (ISO 8601): {str(value)[:40]!r}"
        ) from None
    if moment.tzinfo is None:
        raise PermanentError(f"{name}: informe o fuso (UTC) / give a time zone (UTC)")
    return moment
