"""The staff console, for staff only: the pipeline probe (a message through
billing → provisioning → dns → notify and back) and the provisioning jobs of
every company by state (the ones that gave up first)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from hospeda.gateway.api import ApiRoute, allow
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import ForwardDep
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.web.render import page

router = APIRouter(include_in_schema=False, route_class=ApiRoute)


@router.get("/equipe")
async def console(ctx: Annotated[RequestContext, allow(P.STAFF_COMPANIES)]) -> Response:
    return page(ctx.request, "equipe.html", ctx)


JOB_STATES = ("failed", "running", "queued", "succeeded", "cancelled")


@router.get("/equipe/tarefas")
async def jobs(
    ctx: Annotated[RequestContext, allow(P.STAFF_JOBS)],
    forward: ForwardDep,
    estado: Annotated[str, Query(pattern="^(" + "|".join(JOB_STATES) + ")$")] = "failed",
) -> Response:
    """Provisioning jobs of every company in one state: what gave up, with its
    last error (the provider's own words, which customers never see)."""
    found = await forward.page(
        ctx, "provisioning", "jobs.list", limit=100, cursor=None, state=estado, platform=True
    )
    return page(ctx.request, "tarefas.html", ctx, jobs=found.items, state=estado, states=JOB_STATES)
