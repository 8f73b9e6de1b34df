"""Staff: find companies, act on one (explicitly, with a reason, audited in that
company's trail), manage staff roles, and watch jobs across companies."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from hospeda.gateway.api import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ApiRoute,
    allow,
    decode_cursor,
    page_of,
)
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import ForwardDep, StaffDep
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import ApiError, documented
from hospeda.gateway.schemas.common import Outcome, Page
from hospeda.gateway.schemas.companies import CompanyOut
from hospeda.gateway.schemas.provisioning import Jobs
from hospeda.gateway.schemas.sign_in import SessionInfo
from hospeda.gateway.schemas.staff import ActOnCompany, StaffRoleChange

router = APIRouter(prefix="/staff", tags=["staff"], route_class=ApiRoute)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=200)]
COMMON = documented(401, 403, 422)


@router.get("/companies", responses=COMMON, summary="Buscar empresas / Find companies")
async def companies(
    ctx: Annotated[RequestContext, allow(P.STAFF_COMPANIES)],
    staff: StaffDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[CompanyOut]:
    rows = await staff.search_companies(query=q, after=decode_cursor(cursor), limit=limit + 1)
    rows, next_cursor = page_of(list(rows), limit, lambda row: row.id)
    return Page[CompanyOut](items=[CompanyOut.of(c) for c in rows], next_cursor=next_cursor)


@router.post(
    "/acting",
    responses=documented(401, 403, 404, 422),
    summary="Agir em uma empresa / Act on a company",
)
async def act_on_company(
    body: ActOnCompany, ctx: Annotated[RequestContext, allow(P.STAFF_COMPANIES)], staff: StaffDep
) -> SessionInfo:
    """Until stopped, company routes work on this company with your staff role's
    permissions, as actor `staff`. Recorded, with the reason, in the company's trail."""
    session = await staff.act_on_company(ctx.origin, ctx.session, body.company_id, body.reason)
    ctx.start_session(session)
    return SessionInfo.of(session)


@router.delete("/acting", responses=COMMON, summary="Parar de agir / Stop acting")
async def stop_acting(
    ctx: Annotated[RequestContext, allow(P.STAFF_COMPANIES)], staff: StaffDep
) -> SessionInfo:
    session = await staff.stop_acting(ctx.origin, ctx.session)
    ctx.start_session(session)
    return SessionInfo.of(session)


@router.put(
    "/users/{user_id}/role",
    responses=documented(401, 403, 404, 422),
    summary="Papel de equipe de uma pessoa / A person's staff role",
)
async def set_staff_role(
    user_id: UUID,
    body: StaffRoleChange,
    ctx: Annotated[RequestContext, allow(P.STAFF_MANAGE)],
    staff: StaffDep,
) -> Outcome:
    if user_id == ctx.me.user_id:
        raise ApiError("forbidden", 403)  # nobody changes their own staff role
    await staff.set_staff_role(ctx.origin, user_id, body.role)
    return Outcome(status="changed")


@router.get(
    "/jobs",
    responses=documented(401, 403, 422, 503),
    summary="Tarefas de todas as empresas / Jobs across companies",
)
async def jobs(
    ctx: Annotated[RequestContext, allow(P.STAFF_JOBS)],
    forward: ForwardDep,
    state: Annotated[str | None, Query(max_length=30, pattern=r"^[a-z_]+$")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Jobs:
    """Provisioning jobs platform-wide (e.g. ``state=failed``)."""
    return await forward.page(
        ctx, "provisioning", "jobs.list", limit=limit, cursor=cursor, state=state, platform=True
    )
