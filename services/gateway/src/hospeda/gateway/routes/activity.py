"""The company's audit trail (read from the audit service; every read is itself
audited) and the live event stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent

from hospeda.gateway.api import DEFAULT_LIMIT, MAX_LIMIT, ApiRoute, allow
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import AuthDep, EventsDep, ForwardDep, OperationsDep, SettingsDep
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.permissions import may_see
from hospeda.gateway.problems import documented, not_found
from hospeda.gateway.schemas.activity import AuditEntries, OperationEvent, OperationOut

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
    forward: ForwardDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    correlation_id: UUID | None = None,
) -> AuditEntries:
    """Who did what in this company, oldest first. Reading it is recorded too."""
    await forward.record_read(ctx.origin, "audit.read", "audit_trail", after={"cursor": cursor})
    return await forward.page(
        ctx,
        "audit",
        "entries.list",
        limit=limit,
        cursor=cursor,
        correlation_id=str(correlation_id) if correlation_id else None,
    )


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
    try:
        yield ServerSentEvent(comment="conectado / connected", retry=3000)
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
