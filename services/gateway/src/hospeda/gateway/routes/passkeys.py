"""Passkeys ("biometria ou bloqueio de tela"): add, name and remove your own, and
sign in with one — in the e-mail field (conditional mediation) or with a button.
The ceremonies: ask for options, hand them to the browser, post its answer."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from hospeda.gateway.api import ApiRoute, allow
from hospeda.gateway.auth import session_cookie_name
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import PasskeysDep, SettingsDep
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import documented
from hospeda.gateway.schemas.common import Outcome
from hospeda.gateway.schemas.passkeys import (
    MyPasskeys,
    PasskeyLogin,
    PasskeyOptions,
    PasskeyOut,
    PasskeyRegistration,
    PasskeyRename,
)
from hospeda.gateway.schemas.sign_in import SessionInfo

router = APIRouter(tags=["passkeys"], route_class=ApiRoute)

Public = Annotated[RequestContext, allow(P.PUBLIC)]
Signed = Annotated[RequestContext, allow(P.SELF)]


@router.get(
    "/auth/passkeys/login/options",
    responses=documented(429),
    summary="Começar a entrar com chave de acesso / Start a passkey sign-in",
)
async def login_options(ctx: Public, response: Response, passkeys: PasskeysDep) -> PasskeyOptions:
    """No e-mail needed: the device offers the person's passkeys for this site. A
    GET (the login page asks on every load, for the e-mail field's autofill): it
    only leaves a single-use challenge behind, so there is nothing to audit."""
    response.headers["Cache-Control"] = "no-store"
    return PasskeyOptions(publicKey=await passkeys.login_options())


@router.post(
    "/auth/passkeys/login",
    responses=documented(400, 401, 403, 422, 429),
    summary="Entrar com chave de acesso / Sign in with a passkey",
)
async def login(
    body: PasskeyLogin,
    ctx: Public,
    request: Request,
    passkeys: PasskeysDep,
    settings: SettingsDep,
) -> SessionInfo:
    """Sets the session cookie, like ``/auth/login``; a verified passkey needs no 2FA code."""
    session = await passkeys.login(
        ctx.origin, body.credential, previous=request.cookies.get(session_cookie_name(settings))
    )
    ctx.start_session(session)
    return SessionInfo.of(session)


@router.get(
    "/me/passkeys", responses=documented(401, 403), summary="Minhas chaves de acesso / My passkeys"
)
async def my_passkeys(ctx: Signed, passkeys: PasskeysDep) -> MyPasskeys:
    items, has_password = await passkeys.passkeys(ctx.me.user_id)
    return MyPasskeys(items=[PasskeyOut.of(p) for p in items], has_password=has_password)


@router.post(
    "/me/passkeys/options",
    responses=documented(401, 403, 409),
    summary="Começar a adicionar uma chave de acesso / Start adding a passkey",
)
async def registration_options(ctx: Signed, passkeys: PasskeysDep) -> PasskeyOptions:
    return PasskeyOptions(publicKey=await passkeys.registration_options(ctx.origin, ctx.me.user_id))


@router.post(
    "/me/passkeys",
    status_code=status.HTTP_201_CREATED,
    responses=documented(400, 401, 403, 409, 422),
    summary="Adicionar uma chave de acesso / Add a passkey",
)
async def register(body: PasskeyRegistration, ctx: Signed, passkeys: PasskeysDep) -> PasskeyOut:
    """The browser's answer to the options; user verification is required."""
    passkey = await passkeys.register(ctx.origin, ctx.me.user_id, body.credential, body.name)
    return PasskeyOut.of(passkey)


@router.patch(
    "/me/passkeys/{passkey_id}",
    responses=documented(401, 403, 404, 422),
    summary="Renomear uma chave de acesso / Rename a passkey",
)
async def rename(
    passkey_id: UUID, body: PasskeyRename, ctx: Signed, passkeys: PasskeysDep
) -> PasskeyOut:
    return PasskeyOut.of(await passkeys.rename(ctx.origin, ctx.me.user_id, passkey_id, body.name))


@router.delete(
    "/me/passkeys/{passkey_id}",
    responses=documented(401, 403, 404, 409),
    summary="Remover uma chave de acesso / Remove a passkey",
)
async def remove(passkey_id: UUID, ctx: Signed, passkeys: PasskeysDep) -> Outcome:
    """The last passkey goes only while the account has a password."""
    await passkeys.remove(ctx.origin, ctx.me.user_id, passkey_id)
    return Outcome(status="removed")
