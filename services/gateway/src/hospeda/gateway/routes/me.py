"""The signed-in person: who they are, their companies, switching between them,
and joining a company they were invited to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from hospeda.contracts.identity import CompanyRole
from hospeda.gateway.api import ApiRoute, allow
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import AccountsDep, CompaniesDep
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import documented
from hospeda.gateway.schemas.accounts import CompanyOfMine, Me, Token
from hospeda.gateway.schemas.companies import SwitchCompany
from hospeda.gateway.schemas.sign_in import SessionInfo

router = APIRouter(tags=["me"], route_class=ApiRoute)

Signed = Annotated[RequestContext, allow(P.SELF)]


@router.get("/me", responses=documented(401, 403), summary="Quem sou eu / Who am I")
async def me(ctx: Signed, accounts: AccountsDep) -> Me:
    """The person, their companies and roles, and what they may do in the active one."""
    principal = ctx.me
    profile = await accounts.profile(principal.user_id)
    user = profile.user
    return Me(
        user_id=user.id,
        email=user.email,
        name=user.name,
        locale=user.locale,
        two_factor=user.totp_enabled_at is not None,
        staff_role=principal.staff_role,
        staff_needs_2fa=principal.staff_needs_2fa,
        company_id=principal.company_id,
        role=principal.role,
        acting=principal.acting,
        permissions=sorted(p.value for p in principal.permissions),
        companies=[
            CompanyOfMine(company_id=c.company_id, name=c.name, role=CompanyRole(c.role))
            for c in profile.companies
        ],
    )


@router.put(
    "/me/company",
    responses=documented(401, 403, 404, 422),
    summary="Trocar de empresa / Switch company",
)
async def switch_company(body: SwitchCompany, ctx: Signed, companies: CompaniesDep) -> SessionInfo:
    """Make another company you belong to the active one (new session id)."""
    session = await companies.switch_company(ctx.origin, ctx.session, body.company_id)
    ctx.start_session(session)
    return SessionInfo.of(session)


@router.post(
    "/me/invitations/accept",
    responses=documented(400, 401, 403, 409, 422),
    summary="Aceitar um convite / Accept an invitation",
)
async def accept_invitation(body: Token, ctx: Signed, companies: CompaniesDep) -> SessionInfo:
    """Join the inviting company (the invitation must be for your e-mail); it
    becomes your active company."""
    session = await companies.accept_invitation(ctx.origin, ctx.session, body.token)
    ctx.start_session(session)
    return SessionInfo.of(session)
