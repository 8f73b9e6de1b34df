"""The company's audit trail (read from the audit service; every read is itself
audited) and the live event stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent

from hospeda.gateway import forward
from hospeda.gateway.api import DEFAULT_LIMIT, MAX_LIMIT, ApiRoute, Page, RequestContext, allow
from hospeda.gateway.outgoing import audit
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import documented

router = APIRouter(tags=["activity"], route_class=ApiRoute)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500)]


@router.get(
    "/audit",
    responses=documented(401, 403, 422, 503),
    summary="Trilha de auditoria / Audit trail",
)
async def audit_trail(
    ctx: Annotated[RequestContext, allow(P.AUDIT_READ)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    correlation_id: UUID | None = None,
) -> Page:
    """Who did what in this company, oldest first. Reading it is recorded too."""
    async with ctx.gateway.runtime.db.transaction() as db:
        audit(db, ctx.origin, "audit.read", "audit_trail", after={"cursor": cursor})
    return Page(
        **await forward.page(
            ctx,
            "audit",
            "entries.list",
            limit=limit,
            cursor=cursor,
            correlation_id=str(correlation_id) if correlation_id else None,
        )
    )


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses=documented(401, 403),
    summary="Eventos ao vivo da empresa ativa / Live events of the active company",
)
async def events(
    ctx: Annotated[RequestContext, allow(P.EVENTS_STREAM)],
) -> AsyncIterator[ServerSentEvent]:
    """Server-Sent Events: job progress, invoices, services, DNS … of the active
    company, only the kinds you may see. ``event`` is the message type, ``id``
    the message id, ``data`` the message (its ``correlation_id`` is the
    ``operation_id`` of the command that caused it). The stream ends when the
    session ends or changes; the browser reconnects by itself."""
    gateway, principal = ctx.gateway, ctx.me
    subscription = gateway.events.subscribe(ctx.company_id, principal.permissions)
    heartbeat = gateway.settings.events_heartbeat_s
    try:
        yield ServerSentEvent(comment="conectado / connected", retry=3000)
        while True:
            try:
                event = await asyncio.wait_for(subscription.queue.get(), heartbeat)
            except TimeoutError:
                # still signed in, same company? (sessions rotate on privilege changes)
                current = (await gateway.auth.resolve(ctx.request, rotate=False)).principal
                if current is None or current.company_id != principal.company_id:
                    return
                subscription.permissions = current.permissions
                continue
            if event is None:
                return
            yield ServerSentEvent(data=event.data, event=event.event_type, id=event.event_id)
    finally:
        gateway.events.unsubscribe(subscription)
