"""Operator routes: the pipeline probe (the platform's end-to-end self test).

Public on purpose: the home page's button starts one. A probe changes
nothing but its own record in notify.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, status

from hospeda.gateway.api import ApiRoute, allow
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import ForwardDep
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import documented
from hospeda.gateway.schemas.ops import ProbeResult, ProbeStarted

router = APIRouter(tags=["ops"], route_class=ApiRoute)

Public = Annotated[RequestContext, allow(P.PUBLIC)]


@router.post("/ops/probes", status_code=status.HTTP_202_ACCEPTED, responses=documented(429))
async def start_probe(ctx: Public, forward: ForwardDep) -> ProbeStarted:
    """Send a probe through billing → provisioning → dns → notify."""
    return await forward.start_probe(ctx.origin)


@router.get("/ops/probes/{probe_id}", responses=documented(404, 422, 503))
async def get_probe(probe_id: UUID, ctx: Public, forward: ForwardDep) -> ProbeResult:
    """A completed probe with the services it crossed, read back from notify."""
    return await forward.probe(probe_id)
