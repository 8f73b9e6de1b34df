"""The active company: its profile, members, invitations and API tokens."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from hospeda.gateway.api import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ApiRoute,
    allow,
    decode_cursor,
    page_of,
)
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import CompaniesDep, TokensDep
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import documented
from hospeda.gateway.schemas.common import Outcome, Page
from hospeda.gateway.schemas.companies import (
    CompanyOut,
    CompanyUpdate,
    InvitationIn,
    InvitationOut,
    Member,
    RoleChange,
)
from hospeda.gateway.schemas.tokens import NewTokenOut, TokenIn, TokenOut

router = APIRouter(prefix="/company", tags=["company"], route_class=ApiRoute)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=200)]
COMMON = documented(401, 403, 422)


@router.get("", responses=COMMON, summary="A empresa ativa / The active company")
async def get_company(
    ctx: Annotated[RequestContext, allow(P.COMPANY_READ)], companies: CompaniesDep
) -> CompanyOut:
    return CompanyOut.of(await companies.profile(ctx.company_id))


@router.patch("", responses=COMMON, summary="Alterar a empresa / Update the company")
async def update_company(
    body: CompanyUpdate,
    ctx: Annotated[RequestContext, allow(P.COMPANY_UPDATE)],
    companies: CompaniesDep,
) -> CompanyOut:
    company = await companies.update_company(ctx.origin, ctx.company_id, name=body.name)
    return CompanyOut.of(company)


# --- members -------------------------------------------------------------------------------


@router.get("/members", responses=COMMON, summary="Membros / Members")
async def list_members(
    ctx: Annotated[RequestContext, allow(P.MEMBERS_READ)],
    companies: CompaniesDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[Member]:
    rows = await companies.members(ctx.company_id, after=decode_cursor(cursor), limit=limit + 1)
    rows, next_cursor = page_of(list(rows), limit, lambda row: row[0].id)
    return Page[Member](items=[Member.of(*row) for row in rows], next_cursor=next_cursor)


@router.put(
    "/members/{user_id}/role",
    responses=documented(401, 403, 404, 409, 422),
    summary="Mudar o papel de um membro / Change a member's role",
)
async def change_role(
    user_id: UUID,
    body: RoleChange,
    ctx: Annotated[RequestContext, allow(P.MEMBERS_MANAGE)],
    companies: CompaniesDep,
) -> Outcome:
    """Only owners grant or take the owner role; the last owner stays an owner.
    The member's sessions get new ids on their next request."""
    await companies.change_role(ctx.origin, ctx.me, user_id, body.role)
    return Outcome(status="changed")


@router.delete(
    "/members/{user_id}",
    responses=documented(401, 403, 404, 409, 422),
    summary="Remover um membro / Remove a member",
)
async def remove_member(
    user_id: UUID, ctx: Annotated[RequestContext, allow(P.MEMBERS_MANAGE)], companies: CompaniesDep
) -> Outcome:
    await companies.remove_member(ctx.origin, ctx.me, user_id)
    return Outcome(status="removed")


# --- invitations ---------------------------------------------------------------------------


@router.get("/invitations", responses=COMMON, summary="Convites pendentes / Pending invitations")
async def list_invitations(
    ctx: Annotated[RequestContext, allow(P.MEMBERS_READ)],
    companies: CompaniesDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[InvitationOut]:
    rows = await companies.pending_invitations(
        ctx.company_id, after=decode_cursor(cursor), limit=limit + 1
    )
    rows, next_cursor = page_of(list(rows), limit, lambda row: row.id)
    return Page[InvitationOut](
        items=[InvitationOut.of(row) for row in rows], next_cursor=next_cursor
    )


@router.post(
    "/invitations",
    status_code=status.HTTP_201_CREATED,
    responses=documented(401, 403, 409, 422),
    summary="Convidar alguém / Invite someone",
)
async def invite(
    body: InvitationIn,
    ctx: Annotated[RequestContext, allow(P.MEMBERS_MANAGE)],
    companies: CompaniesDep,
) -> InvitationOut:
    """E-mails a single-use link (valid for 7 days). Only owners invite owners."""
    invitation = await companies.invite(ctx.origin, ctx.me, email=str(body.email), role=body.role)
    return InvitationOut.of(invitation)


@router.delete(
    "/invitations/{invitation_id}",
    responses=documented(401, 403, 404, 422),
    summary="Cancelar um convite / Revoke an invitation",
)
async def revoke_invitation(
    invitation_id: UUID,
    ctx: Annotated[RequestContext, allow(P.MEMBERS_MANAGE)],
    companies: CompaniesDep,
) -> Outcome:
    await companies.revoke_invitation(ctx.origin, ctx.company_id, invitation_id)
    return Outcome(status="revoked")


# --- API tokens ----------------------------------------------------------------------------


@router.get("/tokens", responses=COMMON, summary="Tokens de API / API tokens")
async def list_tokens(
    ctx: Annotated[RequestContext, allow(P.TOKENS_READ)],
    tokens: TokensDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[TokenOut]:
    rows = await tokens.tokens(ctx.company_id, after=decode_cursor(cursor), limit=limit + 1)
    rows, next_cursor = page_of(list(rows), limit, lambda row: row.id)
    return Page[TokenOut](items=[TokenOut.of(row) for row in rows], next_cursor=next_cursor)


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    responses=documented(401, 403, 422),
    summary="Criar um token de API / Create an API token",
)
async def create_token(
    body: TokenIn,
    ctx: Annotated[RequestContext, allow(P.TOKENS_MANAGE, recent=True)],
    tokens: TokensDep,
) -> NewTokenOut:
    """The token is shown once. It acts in this company with the chosen
    permissions (never more than yours; never members:manage or tokens:manage),
    and stops working if revoked, expired, or if you leave the company."""
    created = await tokens.create_token(
        ctx.origin,
        ctx.me,
        name=body.name,
        permissions=body.permissions,
        expires_in_days=body.expires_in_days,
    )
    return NewTokenOut(**TokenOut.of(created.token).model_dump(), token=created.secret)


@router.delete(
    "/tokens/{token_id}",
    responses=documented(401, 403, 404, 422),
    summary="Revogar um token / Revoke a token",
)
async def revoke_token(
    token_id: UUID, ctx: Annotated[RequestContext, allow(P.TOKENS_MANAGE)], tokens: TokensDep
) -> Outcome:
    await tokens.revoke_token(ctx.origin, ctx.company_id, token_id)
    return Outcome(status="revoked")
