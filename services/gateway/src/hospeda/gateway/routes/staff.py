"""Staff: find companies, act on one (explicitly, with a reason, audited in that
company's trail), manage staff roles, and watch jobs across companies."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from hospeda.gateway import forward, repository
from hospeda.gateway.api import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ApiRoute,
    Page,
    RequestContext,
    allow,
    decode_cursor,
    page_of,
)
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import ApiError, documented
from hospeda.gateway.routes.auth import session_info
from hospeda.gateway.schemas import (
    ActOnCompany,
    CompanyOut,
    Outcome,
    SessionInfo,
    StaffRoleChange,
)

router = APIRouter(prefix="/staff", tags=["staff"], route_class=ApiRoute)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=200)]
COMMON = documented(401, 403, 422)


@router.get("/companies", responses=COMMON, summary="Buscar empresas / Find companies")
async def companies(
    ctx: Annotated[RequestContext, allow(P.STAFF_COMPANIES)],
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page:
    async with ctx.gateway.runtime.db.transaction() as db:
        rows = await repository.search_companies(
            db, query=q, after=decode_cursor(cursor), limit=limit + 1
        )
    rows, next_cursor = page_of(list(rows), limit, lambda row: row.id)
    return Page(
        items=[CompanyOut(id=c.id, name=c.name, locale=c.locale) for c in rows],
        next_cursor=next_cursor,
    )


@router.post(
    "/acting",
    responses=documented(401, 403, 404, 422),
    summary="Agir em uma empresa / Act on a company",
)
async def act_on_company(
    body: ActOnCompany, ctx: Annotated[RequestContext, allow(P.STAFF_COMPANIES)]
) -> SessionInfo:
    """Until stopped, company routes work on this company with your staff role's
    permissions, as actor `staff`. Recorded, with the reason, in the company's trail."""
    session = await ctx.gateway.identity.act_on_company(
        ctx.origin, ctx.session, body.company_id, body.reason
    )
    ctx.start_session(session)
    return session_info(session)


@router.delete("/acting", responses=COMMON, summary="Parar de agir / Stop acting")
async def stop_acting(ctx: Annotated[RequestContext, allow(P.STAFF_COMPANIES)]) -> SessionInfo:
    session = await ctx.gateway.identity.stop_acting(ctx.origin, ctx.session)
    ctx.start_session(session)
    return session_info(session)


@router.put(
    "/users/{user_id}/role",
    responses=documented(401, 403, 404, 422),
    summary="Papel de equipe de uma pessoa / A person's staff role",
)
async def set_staff_role(
    user_id: UUID, body: StaffRoleChange, ctx: Annotated[RequestContext, allow(P.STAFF_MANAGE)]
) -> Outcome:
    if user_id == ctx.me.user_id:
        raise ApiError("forbidden", 403)  # nobody changes their own staff role
    await ctx.gateway.identity.set_staff_role(ctx.origin, user_id, body.role)
    return Outcome(status="changed")


@router.get(
    "/jobs",
    responses=documented(401, 403, 422, 503),
    summary="Tarefas de todas as empresas / Jobs across companies",
)
async def jobs(
    ctx: Annotated[RequestContext, allow(P.STAFF_JOBS)],
    state: Annotated[str | None, Query(max_length=30, pattern=r"^[a-z_]+$")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Page:
    """Provisioning jobs platform-wide (e.g. ``state=failed``)."""
    return Page(
        **await forward.page(
            ctx, "provisioning", "jobs.list", limit=limit, cursor=cursor, state=state, platform=True
        )
    )
