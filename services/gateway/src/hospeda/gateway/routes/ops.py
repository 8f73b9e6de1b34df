"""Operator routes: the pipeline probe (the platform's end-to-end self test).

Public on purpose: the home page's button starts one. A probe changes
nothing but its own record in notify.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, status

from hospeda.contracts import Actor, ActorKind, new_id
from hospeda.contracts.ops import PipelineProbe
from hospeda.contracts.topics import BILLING_COMMANDS
from hospeda.gateway.api import ApiRoute, RequestContext, allow
from hospeda.gateway.outgoing import audit, send
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import ApiError, documented
from hospeda.runtime.errors import QueryFailed, QueryTimeout
from hospeda.runtime.probe import hop

router = APIRouter(tags=["ops"], route_class=ApiRoute)

Public = Annotated[RequestContext, allow(P.PUBLIC)]


@router.post("/ops/probes", status_code=status.HTTP_202_ACCEPTED, responses=documented(429))
async def start_probe(ctx: Public) -> dict[str, Any]:
    """Send a probe through billing → provisioning → dns → notify."""
    probe_id = new_id()
    ctx.origin.actor = Actor(kind=ActorKind.SYSTEM, id="gateway")
    async with ctx.gateway.runtime.db.transaction() as db:
        envelope = send(
            db,
            ctx.origin,
            PipelineProbe(probe_id=probe_id, hops=(hop("gateway"),)),
            topic=BILLING_COMMANDS,
            key=probe_id,
        )
        audit(db, ctx.origin, "ops.probe_started", "probe", probe_id)
    return {
        "probe_id": str(probe_id),
        "correlation_id": str(envelope.correlation_id),
        "status_url": f"/api/v1/ops/probes/{probe_id}",
    }


@router.get("/ops/probes/{probe_id}", responses=documented(404, 422, 503))
async def get_probe(probe_id: UUID, ctx: Public) -> dict[str, Any]:
    """A completed probe with the services it crossed, read back from notify."""
    try:
        result: dict[str, Any] = await ctx.gateway.queries.ask(
            "notify", "probe.get", {"probe_id": str(probe_id)}, actor=Actor.system("gateway")
        )
    except QueryTimeout:
        raise ApiError(
            "service_unavailable", 503, headers={"Retry-After": "1"}, service="notify"
        ) from None
    except QueryFailed as exc:
        if exc.code == "not_found":
            raise ApiError("probe_pending", 404, text=exc.message) from None
        raise ApiError("bad_gateway", 502, service="notify") from None
    return result
