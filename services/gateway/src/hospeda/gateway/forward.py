"""Reaching the services that own the data.

Queries go by request/reply over Kafka with the active company in the
envelope (never as a parameter) and a bounded wait: no answer in time is a
503, another company's id is a 404 exactly like a missing one. Commands go
to the owning service's topic through the outbox, together with their audit
record, and are answered 202 with the command's correlation id as the
operation id.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from hospeda.contracts import Payload, Topic
from hospeda.gateway.api import RequestContext
from hospeda.gateway.outgoing import audit, send
from hospeda.gateway.problems import ApiError, not_found
from hospeda.runtime.errors import QueryFailed, QueryTimeout

RETRY_AFTER_S = "5"


class Accepted(BaseModel):
    """A command was accepted; follow it at ``GET /api/v1/operations/{operation_id}``
    or on the event stream."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "operation_id": "0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a69",
                    "status": "accepted",
                    "resource_id": "0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a70",
                }
            ]
        }
    )

    operation_id: UUID = Field(description="Correlation id of every message this command causes.")
    status: str = "accepted"
    resource_id: str | None = Field(
        default=None, description="The id the command creates or acts on."
    )


async def ask(
    ctx: RequestContext, service: str, name: str, params: dict[str, Any], *, platform: bool = False
) -> Any:
    """Ask ``service`` for data in the active company (``platform``: staff asking
    across companies, no company); map failures to problems."""
    try:
        return await ctx.gateway.queries.ask(
            service,
            name,
            params,
            actor=ctx.origin.actor,
            company_id=None if platform else ctx.company_id,
            ip=ctx.origin.ip,
        )
    except QueryTimeout:
        raise _unavailable(service) from None
    except QueryFailed as exc:
        if exc.code in ("not_found", "forbidden"):
            raise not_found() from None
        if exc.code == "invalid":
            raise ApiError("invalid", 422, message=exc.message) from None
        if exc.code == "unknown_query":  # the service does not offer it (yet)
            raise _unavailable(service) from None
        raise ApiError("bad_gateway", 502, service=service) from None


def _unavailable(service: str) -> ApiError:
    return ApiError(
        "service_unavailable", 503, headers={"Retry-After": RETRY_AFTER_S}, service=service
    )


async def page(
    ctx: RequestContext,
    service: str,
    name: str,
    *,
    limit: int,
    cursor: str | None,
    platform: bool = False,
    **filters: Any,
) -> dict[str, Any]:
    params = {
        "limit": limit,
        "cursor": cursor,
        **{k: v for k, v in filters.items() if v is not None},
    }
    answer = await ask(ctx, service, name, params, platform=platform)
    if isinstance(answer, list):  # tolerate services that answer a bare list
        return {"items": answer, "next_cursor": None}
    if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
        raise ApiError("bad_gateway", 502, service=service)
    return {"items": answer["items"], "next_cursor": answer.get("next_cursor")}


async def get(ctx: RequestContext, service: str, name: str, **params: Any) -> dict[str, Any]:
    answer = await ask(ctx, service, name, {k: str(v) for k, v in params.items()})
    if not isinstance(answer, dict):
        raise not_found()
    return answer


async def command(
    ctx: RequestContext,
    payload: Payload,
    *,
    topic: Topic,
    key: str | UUID,
    action: str,
    entity: str,
    entity_id: str | UUID,
    before: dict[str, Any] | None = None,
) -> Accepted:
    """Send ``payload`` to its service (outbox) with its audit record; 202."""
    async with ctx.gateway.runtime.db.transaction() as db:
        envelope = send(db, ctx.origin, payload, topic=topic, key=key)
        # before the commit, so the operation exists before any of its events can
        # (if the commit fails, nobody ever learns this operation id)
        await ctx.gateway.operations.accepted(envelope, resource_id=str(entity_id))
        audit(
            db,
            ctx.origin,
            action,
            entity,
            entity_id,
            before=before,
            after=payload.model_dump(mode="json"),
        )
    return Accepted(operation_id=envelope.correlation_id, resource_id=str(entity_id))
