"""Operator routes: the pipeline probe (the platform's end-to-end self test).

Each probe writes rows in five services and the audit chain, so starting one
needs a signed-in staff member (in demo mode, anyone: the home page's button
starts one), and a few per minute per caller.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request, status

from hospeda.gateway.api import ApiRoute, Guard, allow
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import ForwardDep, LimiterDep, SettingsDep
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import documented
from hospeda.gateway.schemas.ops import ProbeResult, ProbeStarted

router = APIRouter(tags=["ops"], route_class=ApiRoute)

Public = Annotated[RequestContext, allow(P.PUBLIC)]
STAFF = Guard(P.STAFF_COMPANIES)  # every staff role; checked in the route (demo mode: public)
PROBES_PER_MINUTE = 6


@router.post(
    "/ops/probes", status_code=status.HTTP_202_ACCEPTED, responses=documented(401, 403, 429)
)
async def start_probe(
    ctx: Public,
    request: Request,
    settings: SettingsDep,
    limiter: LimiterDep,
    forward: ForwardDep,
) -> ProbeStarted:
    """Send a probe through billing → provisioning → dns → notify. A signed-in staff
    member only (anyone in demo mode); a few per minute."""
    if not settings.demo:
        ctx = await STAFF(request)
    caller = f"user:{ctx.me.user_id}" if ctx.principal else f"ip:{ctx.origin.ip}"
    await limiter.spend("probe", caller, PROBES_PER_MINUTE, window=60)
    return await forward.start_probe(ctx.origin)


@router.get("/ops/probes/{probe_id}", responses=documented(404, 422, 503))
async def get_probe(probe_id: UUID, ctx: Public, forward: ForwardDep) -> ProbeResult:
    """A completed probe with the services it crossed, read back from notify."""
    return await forward.probe(probe_id)
