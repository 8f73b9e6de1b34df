"""What a load balancer asks. The web app's pages are in ``hospeda.gateway.web``."""

from __future__ import annotations

from fastapi import APIRouter

from hospeda.gateway.api import ApiRoute, allow
from hospeda.gateway.permissions import Permission as P

router = APIRouter(include_in_schema=False, route_class=ApiRoute, dependencies=[allow(P.PUBLIC)])


@router.get("/healthz")
async def health() -> dict[str, str]:
    return {"status": "ok"}
