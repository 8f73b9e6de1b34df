"""Accounts: sign-up, e-mail confirmation, signing in and out, passwords, 2FA."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from hospeda.gateway.api import ApiRoute, allow
from hospeda.gateway.auth import KNOWN_DEVICE_MAX_AGE_S, device_cookie_name, session_cookie_name
from hospeda.gateway.config import GatewaySettings
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import AccountsDep, CompaniesDep, SettingsDep, SignInDep
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import ApiError, documented
from hospeda.gateway.schemas.accounts import (
    EmailOnly,
    InvitedSignUp,
    PasswordChange,
    PasswordReset,
    SignedUp,
    SignUp,
    Token,
)
from hospeda.gateway.schemas.common import Outcome
from hospeda.gateway.schemas.sign_in import (
    Login,
    Reauthenticate,
    RecoveryCodes,
    SecondFactor,
    SessionInfo,
    TotpDisable,
    TotpSetup,
)

router = APIRouter(prefix="/auth", tags=["auth"], route_class=ApiRoute)

Public = Annotated[RequestContext, allow(P.PUBLIC)]
Signed = Annotated[RequestContext, allow(P.SELF)]
Pending = Annotated[RequestContext, allow(P.MFA_PENDING)]
Recent = Annotated[RequestContext, allow(P.SELF, recent=True)]


@router.post(
    "/signup",
    status_code=status.HTTP_202_ACCEPTED,
    responses=documented(422, 429),
    summary="Criar empresa e proprietário / Sign up a company and its owner",
)
async def sign_up(body: SignUp, ctx: Public, accounts: AccountsDep) -> Outcome:
    """Creates the company (tenant) and its owner, and e-mails a confirmation link;
    signing in works once the e-mail is confirmed. Always 202 with the same answer:
    an address that already has an account is told so by e-mail, not here, so
    sign-up does not reveal who is a customer."""
    await accounts.sign_up(
        ctx.origin,
        company_name=body.company_name,
        name=body.name,
        email=str(body.email),
        password=body.password,
        locale=body.locale,
    )
    return Outcome(status="check_your_email")


@router.post(
    "/signup/invited",
    status_code=status.HTTP_201_CREATED,
    responses=documented(400, 409, 422),
    summary="Criar conta a partir de um convite / Sign up from an invitation",
)
async def sign_up_invited(body: InvitedSignUp, ctx: Public, companies: CompaniesDep) -> SignedUp:
    user = await companies.sign_up_invited(
        ctx.origin, token=body.token, name=body.name, password=body.password, locale=body.locale
    )
    assert ctx.origin.company_id is not None
    return SignedUp(user_id=user.id, company_id=ctx.origin.company_id, email_sent=False)


@router.post(
    "/verify-email",
    responses=documented(400, 422),
    summary="Confirmar e-mail / Confirm e-mail",
)
async def verify_email(body: Token, ctx: Public, accounts: AccountsDep) -> Outcome:
    await accounts.verify_email(ctx.origin, body.token)
    return Outcome(status="verified")


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    responses=documented(422, 429),
    summary="Reenviar confirmação / Resend the confirmation",
)
async def resend_verification(body: EmailOnly, ctx: Public, accounts: AccountsDep) -> Outcome:
    """Always 202: the answer does not reveal whether the address has an account."""
    await accounts.resend_verification(ctx.origin, str(body.email))
    return Outcome()


def _remember_device(
    request: Request, response: Response, settings: GatewaySettings, sign_in: SignInDep, user: UUID
) -> None:
    """After a full sign-in: the signed known-device cookie (see ``limits``)."""
    name = device_cookie_name(settings)
    response.set_cookie(
        name,
        sign_in.known_device(user, request.cookies.get(name)),
        max_age=KNOWN_DEVICE_MAX_AGE_S,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )


@router.post(
    "/login",
    responses=documented(401, 403, 422, 429),
    summary="Entrar / Sign in",
)
async def login(
    body: Login,
    ctx: Public,
    request: Request,
    response: Response,
    sign_in: SignInDep,
    settings: SettingsDep,
) -> SessionInfo:
    """Sets the session cookie (a new id every time). With 2FA on, the answer has
    ``mfa_required: true`` and the code goes to ``/auth/login/2fa``.
    Repeated failures slow the account down and stop the address for a while (429,
    ``Retry-After``); a browser that signed in to the account before is not held back."""
    session = await sign_in.login(
        ctx.origin,
        email=str(body.email),
        password=body.password,
        # whatever session this browser had ends: no fixation
        previous=request.cookies.get(session_cookie_name(settings)),
        device=request.cookies.get(device_cookie_name(settings)),
    )
    ctx.start_session(session)
    if not session.mfa_pending:
        _remember_device(request, response, settings, sign_in, session.user_id)
    return SessionInfo.of(session)


@router.post(
    "/login/2fa",
    responses=documented(400, 401, 403, 422, 429),
    summary="Código da verificação em duas etapas / Two-factor code",
)
async def login_second_factor(
    body: SecondFactor,
    ctx: Pending,
    request: Request,
    response: Response,
    sign_in: SignInDep,
    settings: SettingsDep,
) -> SessionInfo:
    session = await sign_in.login_second_factor(
        ctx.origin,
        ctx.session,
        body.code,
        device=request.cookies.get(device_cookie_name(settings)),
    )
    ctx.start_session(session)
    _remember_device(request, response, settings, sign_in, session.user_id)
    return SessionInfo.of(session)


@router.post(
    "/reauthenticate",
    responses=documented(400, 401, 403, 422, 429),
    summary="Confirmar a identidade / Re-authenticate",
)
async def reauthenticate(body: Reauthenticate, ctx: Signed, sign_in: SignInDep) -> SessionInfo:
    """The password or a 2FA code again: for the next few minutes
    (``GATEWAY_REAUTH_WINDOW_S``) the session may turn 2FA on or off, create API
    tokens, change the password or e-mail and take staff actions."""
    if (body.password is None) == (body.code is None):
        raise ApiError("reauth_one_proof", 422)
    session = await sign_in.reauthenticate(
        ctx.origin, ctx.session, password=body.password, code=body.code
    )
    return SessionInfo.of(session)


@router.get("/session", responses=documented(401, 403), summary="Sessão atual / Current session")
async def current_session(ctx: Signed) -> SessionInfo:
    return SessionInfo.of(ctx.session)


@router.post(
    "/logout",
    status_code=status.HTTP_200_OK,
    responses=documented(401, 403),
    summary="Sair / Sign out",
)
async def logout(ctx: Signed, sign_in: SignInDep) -> Outcome:
    await sign_in.logout(ctx.origin, ctx.session, ctx.presented)
    ctx.end_session()
    return Outcome(status="signed_out")


@router.post(
    "/logout-everywhere",
    responses=documented(401, 403),
    summary="Sair de todos os dispositivos / Sign out everywhere",
)
async def logout_everywhere(ctx: Signed, sign_in: SignInDep) -> Outcome:
    await sign_in.logout_everywhere(ctx.origin, ctx.session)
    ctx.end_session()
    return Outcome(status="signed_out")


@router.post(
    "/password/forgot",
    status_code=status.HTTP_202_ACCEPTED,
    responses=documented(422, 429),
    summary="Esqueci a senha / Forgot password",
)
async def forgot_password(body: EmailOnly, ctx: Public, accounts: AccountsDep) -> Outcome:
    """Always 202: a single-use link goes by e-mail if the account exists."""
    await accounts.forgot_password(ctx.origin, str(body.email))
    return Outcome()


@router.post(
    "/password/reset",
    responses=documented(400, 422),
    summary="Redefinir a senha / Reset the password",
)
async def reset_password(body: PasswordReset, ctx: Public, accounts: AccountsDep) -> Outcome:
    """Every session of the account ends."""
    await accounts.reset_password(ctx.origin, body.token, body.password)
    return Outcome(status="password_reset")


@router.post(
    "/password/change",
    responses=documented(401, 403, 422, 429),
    summary="Trocar a senha / Change the password",
)
async def change_password(body: PasswordChange, ctx: Signed, accounts: AccountsDep) -> SessionInfo:
    """Other sessions end; this one continues under a new id."""
    session = await accounts.change_password(
        ctx.origin, ctx.session, body.current_password, body.new_password
    )
    ctx.start_session(session)
    return SessionInfo.of(session)


@router.post(
    "/2fa/setup",
    responses=documented(401, 403, 409),
    summary="Começar a configurar a verificação em duas etapas / Start 2FA setup",
)
async def totp_setup(ctx: Recent, sign_in: SignInDep) -> TotpSetup:
    secret, uri = await sign_in.start_totp(ctx.origin, ctx.me.user_id)
    return TotpSetup(secret=secret, otpauth_uri=uri)


@router.post(
    "/2fa/enable",
    responses=documented(400, 401, 403, 409, 422),
    summary="Ativar a verificação em duas etapas / Turn 2FA on",
)
async def totp_enable(body: SecondFactor, ctx: Recent, sign_in: SignInDep) -> RecoveryCodes:
    session, codes = await sign_in.enable_totp(ctx.origin, ctx.session, body.code)
    ctx.start_session(session)
    return RecoveryCodes(recovery_codes=codes)


@router.post(
    "/2fa/disable",
    responses=documented(400, 401, 403, 409, 422, 429),
    summary="Desativar a verificação em duas etapas / Turn 2FA off",
)
async def totp_disable(body: TotpDisable, ctx: Signed, sign_in: SignInDep) -> Outcome:
    session = await sign_in.disable_totp(ctx.origin, ctx.session, body.password, body.code)
    ctx.start_session(session)
    return Outcome(status="disabled")


@router.post(
    "/2fa/recovery-codes",
    responses=documented(400, 401, 403, 409, 422, 429),
    summary="Novos códigos de recuperação / New recovery codes",
)
async def recovery_codes(body: SecondFactor, ctx: Signed, sign_in: SignInDep) -> RecoveryCodes:
    codes = await sign_in.regenerate_recovery_codes(ctx.origin, ctx.me.user_id, body.code)
    return RecoveryCodes(recovery_codes=codes)
