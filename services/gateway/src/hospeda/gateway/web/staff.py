"""The staff console: for now the pipeline probe (a message through billing →
provisioning → dns → notify and back), for staff only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import Response

from hospeda.gateway.api import ApiRoute, allow
from hospeda.gateway.context import RequestContext
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.web.render import page

router = APIRouter(include_in_schema=False, route_class=ApiRoute)


@router.get("/equipe")
async def console(ctx: Annotated[RequestContext, allow(P.STAFF_COMPANIES)]) -> Response:
    return page(ctx.request, "equipe.html", ctx)
