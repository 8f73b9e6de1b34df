"""The active company: its profile, members, invitations and API tokens."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from hospeda.contracts.identity import CompanyRole
from hospeda.gateway import repository
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
from hospeda.gateway.models import ApiToken
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import documented, not_found
from hospeda.gateway.schemas import (
    CompanyOut,
    CompanyUpdate,
    InvitationIn,
    InvitationOut,
    Member,
    NewTokenOut,
    Outcome,
    RoleChange,
    TokenIn,
    TokenOut,
)

router = APIRouter(prefix="/company", tags=["company"], route_class=ApiRoute)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=200)]
COMMON = documented(401, 403, 422)


@router.get("", responses=COMMON, summary="A empresa ativa / The active company")
async def get_company(ctx: Annotated[RequestContext, allow(P.COMPANY_READ)]) -> CompanyOut:
    async with ctx.gateway.runtime.db.read() as conn:
        company = await repository.company_profile(conn, ctx.company_id)
    if company is None:
        raise not_found()
    return CompanyOut(id=company.id, name=company.name, locale=company.locale)


@router.patch("", responses=COMMON, summary="Alterar a empresa / Update the company")
async def update_company(
    body: CompanyUpdate, ctx: Annotated[RequestContext, allow(P.COMPANY_UPDATE)]
) -> CompanyOut:
    company = await ctx.gateway.identity.update_company(ctx.origin, ctx.company_id, name=body.name)
    return CompanyOut(id=company.id, name=company.name, locale=company.locale)


# --- members -------------------------------------------------------------------------------


@router.get("/members", responses=COMMON, summary="Membros / Members")
async def list_members(
    ctx: Annotated[RequestContext, allow(P.MEMBERS_READ)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page:
    async with ctx.gateway.runtime.db.transaction() as db:
        rows = await repository.members(
            db, ctx.company_id, after=decode_cursor(cursor), limit=limit + 1
        )
    rows, next_cursor = page_of(list(rows), limit, lambda row: row[0].id)
    items = [
        Member(
            user_id=user.id,
            name=user.name,
            email=user.email,
            role=CompanyRole(membership.role),
            two_factor=user.totp_enabled_at is not None,
        )
        for user, membership in rows
    ]
    return Page(items=items, next_cursor=next_cursor)


@router.put(
    "/members/{user_id}/role",
    responses=documented(401, 403, 404, 409, 422),
    summary="Mudar o papel de um membro / Change a member's role",
)
async def change_role(
    user_id: UUID, body: RoleChange, ctx: Annotated[RequestContext, allow(P.MEMBERS_MANAGE)]
) -> Outcome:
    """Only owners grant or take the owner role; the last owner stays an owner.
    The member's sessions get new ids on their next request."""
    await ctx.gateway.identity.change_role(ctx.origin, ctx.me, user_id, body.role)
    return Outcome(status="changed")


@router.delete(
    "/members/{user_id}",
    responses=documented(401, 403, 404, 409, 422),
    summary="Remover um membro / Remove a member",
)
async def remove_member(
    user_id: UUID, ctx: Annotated[RequestContext, allow(P.MEMBERS_MANAGE)]
) -> Outcome:
    await ctx.gateway.identity.remove_member(ctx.origin, ctx.me, user_id)
    return Outcome(status="removed")


# --- invitations ---------------------------------------------------------------------------


def _invitation(invitation: object) -> InvitationOut:
    return InvitationOut.model_validate(invitation, from_attributes=True)


@router.get("/invitations", responses=COMMON, summary="Convites pendentes / Pending invitations")
async def list_invitations(
    ctx: Annotated[RequestContext, allow(P.MEMBERS_READ)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page:
    async with ctx.gateway.runtime.db.transaction() as db:
        rows = await repository.pending_invitations(
            db,
            ctx.company_id,
            now=ctx.gateway.clock.now(),
            after=decode_cursor(cursor),
            limit=limit + 1,
        )
    rows, next_cursor = page_of(list(rows), limit, lambda row: row.id)
    return Page(items=[_invitation(row) for row in rows], next_cursor=next_cursor)


@router.post(
    "/invitations",
    status_code=status.HTTP_201_CREATED,
    responses=documented(401, 403, 409, 422),
    summary="Convidar alguém / Invite someone",
)
async def invite(
    body: InvitationIn, ctx: Annotated[RequestContext, allow(P.MEMBERS_MANAGE)]
) -> InvitationOut:
    """E-mails a single-use link (valid for 7 days). Only owners invite owners."""
    invitation = await ctx.gateway.identity.invite(
        ctx.origin, ctx.me, email=str(body.email), role=body.role
    )
    return _invitation(invitation)


@router.delete(
    "/invitations/{invitation_id}",
    responses=documented(401, 403, 404, 422),
    summary="Cancelar um convite / Revoke an invitation",
)
async def revoke_invitation(
    invitation_id: UUID, ctx: Annotated[RequestContext, allow(P.MEMBERS_MANAGE)]
) -> Outcome:
    await ctx.gateway.identity.revoke_invitation(ctx.origin, ctx.company_id, invitation_id)
    return Outcome(status="revoked")


# --- API tokens ----------------------------------------------------------------------------


def _token(token: ApiToken) -> TokenOut:
    return TokenOut(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        permissions=list(token.permissions),
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked=token.revoked_at is not None,
    )


@router.get("/tokens", responses=COMMON, summary="Tokens de API / API tokens")
async def list_tokens(
    ctx: Annotated[RequestContext, allow(P.TOKENS_READ)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page:
    async with ctx.gateway.runtime.db.transaction() as db:
        rows = await repository.tokens(
            db, ctx.company_id, after=decode_cursor(cursor), limit=limit + 1
        )
    rows, next_cursor = page_of(list(rows), limit, lambda row: row.id)
    return Page(items=[_token(row) for row in rows], next_cursor=next_cursor)


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    responses=documented(401, 403, 422),
    summary="Criar um token de API / Create an API token",
)
async def create_token(
    body: TokenIn, ctx: Annotated[RequestContext, allow(P.TOKENS_MANAGE)]
) -> NewTokenOut:
    """The token is shown once. It acts in this company with the chosen
    permissions (never more than yours; never members:manage or tokens:manage),
    and stops working if revoked, expired, or if you leave the company."""
    created = await ctx.gateway.identity.create_token(
        ctx.origin,
        ctx.me,
        name=body.name,
        permissions=body.permissions,
        expires_in_days=body.expires_in_days,
    )
    return NewTokenOut(**_token(created.token).model_dump(), token=created.secret)


@router.delete(
    "/tokens/{token_id}",
    responses=documented(401, 403, 404, 422),
    summary="Revogar um token / Revoke a token",
)
async def revoke_token(
    token_id: UUID, ctx: Annotated[RequestContext, allow(P.TOKENS_MANAGE)]
) -> Outcome:
    await ctx.gateway.identity.revoke_token(ctx.origin, ctx.company_id, token_id)
    return Outcome(status="revoked")
