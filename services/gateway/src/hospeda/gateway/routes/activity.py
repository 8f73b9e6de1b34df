"""The company's audit trail (read from the audit service, which records every
read and export in the trail itself), its export, and the live event stream."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from hospeda.gateway.api import DEFAULT_LIMIT, MAX_LIMIT, ApiRoute, allow
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import AuthDep, EventsDep, ForwardDep, OperationsDep, SettingsDep
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.permissions import may_see
from hospeda.gateway.problems import documented, not_found
from hospeda.gateway.schemas.activity import AuditEntries, AuditExport, OperationEvent, OperationOut

router = APIRouter(tags=["activity"], route_class=ApiRoute)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500)]
EXPORT_PAGE = 200
EXPORT_MAX_ENTRIES = 10_000
CSV_COLUMNS = (
    "leaf_index", "seq", "occurred_at", "recorded_at", "actor_kind", "actor_id", "action",
    "entity", "entity_id", "ip", "user_agent", "before", "after", "topic", "correlation_id",
    "category", "hash", "prev_hash", "record",
)  # fmt: skip


@dataclass
class AuditFilters:
    """What the trail can be narrowed to (all optional)."""

    actor_id: Annotated[
        str | None, Query(max_length=200, description="A user, staff or token id.")
    ] = None
    action: Annotated[
        str | None,
        Query(max_length=100, description="Exact, or a prefix ending in `*` (`invoice.*`)."),
    ] = None
    entity: Annotated[str | None, Query(max_length=100)] = None
    entity_id: Annotated[str | None, Query(max_length=255)] = None
    correlation_id: UUID | None = None
    since: Annotated[
        datetime | None, Query(description="From this instant (ISO 8601, with zone).")
    ] = None
    until: Annotated[datetime | None, Query(description="Before this instant.")] = None

    def params(self) -> dict[str, Any]:
        return {
            "actor_id": self.actor_id,
            "action": self.action,
            "entity": self.entity,
            "entity_id": self.entity_id,
            "correlation_id": str(self.correlation_id) if self.correlation_id else None,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


@router.get(
    "/audit",
    responses=documented(401, 403, 422, 503),
    summary="Trilha de auditoria / Audit trail",
)
async def audit_trail(
    ctx: Annotated[RequestContext, allow(P.AUDIT_READ)],
    forward: ForwardDep,
    filters: Annotated[AuditFilters, Depends()],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> AuditEntries:
    """Who did what in this company, oldest first. Each entry carries what you
    need to check it yourself: `record` (the exact text that was hashed),
    `hash` = SHA-256 of it, `prev_hash` (the entry before it), `seq`,
    `leaf_index` and the signed `checkpoint` that covers it. Personal data of
    people who asked to be erased reads `[apagado / erased]`. Reading the trail
    is recorded in it too (by the audit service)."""
    return await forward.page(
        ctx, "audit", "entries.list", limit=limit, cursor=cursor, **filters.params()
    )


@router.get(
    "/audit/export",
    response_class=Response,
    responses={
        **documented(401, 403, 422, 503),
        200: {"model": AuditExport, "content": {"text/csv": {}}, "description": "The file."},
    },
    summary="Exportar a trilha de auditoria / Export the audit trail",
)
async def export_audit_trail(
    ctx: Annotated[RequestContext, allow(P.AUDIT_EXPORT)],
    forward: ForwardDep,
    filters: Annotated[AuditFilters, Depends()],
    format: Literal["json", "csv"] = "json",
    cursor: Cursor = None,
) -> Response:
    """The trail as one CSV or JSON file, oldest first, up to 10,000 entries; when
    there are more, `X-Next-Cursor` says where to continue. Recorded as an export."""
    items: list[dict[str, Any]] = []
    while len(items) < EXPORT_MAX_ENTRIES:
        page = await forward.page(
            ctx, "audit", "entries.list", limit=EXPORT_PAGE, cursor=cursor, export=format,
            **filters.params(),
        )  # fmt: skip
        items += page.items
        cursor = page.next_cursor
        if not cursor:
            break
    headers = {"Content-Disposition": f'attachment; filename="auditoria-{ctx.company_id}.{format}"'}
    if cursor:
        headers["X-Next-Cursor"] = cursor
    if format == "csv":
        return Response(_csv(items), media_type="text/csv; charset=utf-8", headers=headers)
    document = AuditExport(format="hospeda-audit-export/v1", company_id=ctx.company_id, items=items)
    return Response(document.model_dump_json(), media_type="application/json", headers=headers)


def _csv(items: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        flat = {
            **item,
            "actor_kind": (item.get("actor") or {}).get("kind"),
            "actor_id": (item.get("actor") or {}).get("id"),
        }
        writer.writerow([_cell(flat.get(column)) for column in CSV_COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> str:
    """A CSV cell no spreadsheet runs as a formula."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses=documented(401, 403),
    summary="Eventos ao vivo da empresa ativa / Live events of the active company",
)
async def events(
    ctx: Annotated[RequestContext, allow(P.EVENTS_STREAM)],
    hub: EventsDep,
    auth: AuthDep,
    settings: SettingsDep,
) -> AsyncIterator[ServerSentEvent]:
    """Server-Sent Events: job progress, invoices, services, DNS … of the active
    company, only the kinds you may see. ``event`` is the message type, ``id``
    the message id, ``data`` the message (its ``correlation_id`` is the
    ``operation_id`` of the command that caused it). The stream ends when the
    session ends or changes; the browser reconnects by itself."""
    principal = ctx.me
    subscription = hub.subscribe(
        ctx.company_id,
        principal.permissions,
        user_id=principal.user_id if principal.session is not None else None,  # inbox items
    )
    heartbeat = settings.events_heartbeat_s
    replayed: set[str] = set()
    try:
        yield ServerSentEvent(comment="conectado / connected", retry=3000)
        last_id = ctx.request.headers.get("last-event-id", "").strip()[:100]
        if last_id and hub.backlog is not None:
            # a reconnect: what it missed first (subscribed already, so nothing falls between)
            owners = [f"company:{ctx.company_id}"]
            if subscription.user_id is not None:
                owners.append(f"person:{subscription.user_id}")
            for missed in await hub.backlog.missed(owners, last_id):
                if missed.event_id in replayed or not subscription.wants(missed):
                    continue
                replayed.add(missed.event_id)
                yield ServerSentEvent(data=missed.data, event=missed.event_type, id=missed.event_id)
        while True:
            try:
                event = await asyncio.wait_for(subscription.queue.get(), heartbeat)
            except TimeoutError:
                # still signed in, same company? (sessions rotate on privilege changes)
                current = (await auth.resolve(ctx.request, rotate=False)).principal
                if current is None or current.company_id != principal.company_id:
                    return
                subscription.permissions = current.permissions
                continue
            if event is None:
                return
            if event.event_id in replayed:
                continue
            yield ServerSentEvent(data=event.data, event=event.event_type, id=event.event_id)
    finally:
        hub.unsubscribe(subscription)


@router.get(
    "/operations/{operation_id}",
    responses=documented(401, 403, 404),
    summary="Acompanhar um comando / Follow a command",
)
async def get_operation(
    operation_id: UUID,
    ctx: Annotated[RequestContext, allow(P.EVENTS_STREAM)],
    operations: OperationsDep,
) -> OperationOut:
    """For callers that poll instead of holding the event stream: the events
    caused by a command accepted with this ``operation_id`` (kept for 7 days)."""
    operation = await operations.get(operation_id)
    if operation is None or operation.company_id != ctx.company_id:
        raise not_found()
    permissions = ctx.me.permissions
    visible = [
        OperationEvent(**event)
        for event in operation.events
        if may_see(event["topic"], permissions)
    ]
    rejection = operation.rejection
    return OperationOut(
        operation_id=operation_id,
        command=operation.command,
        resource_id=operation.resource_id,
        accepted_at=operation.accepted_at,
        status="rejected" if rejection else ("processing" if operation.events else "accepted"),
        rejection=rejection,
        events=visible,
    )
