"""The pages anyone can open: sign in (password, then the 2FA code), sign up,
and the pages e-mailed links open (confirm the e-mail, reset the password,
join from an invitation). Each form calls the API's own route function, so a
page and the API answer alike."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from hospeda.gateway.api import ApiRoute, allow
from hospeda.gateway.context import RequestContext
from hospeda.gateway.demo import DEMO_EMAIL, DEMO_PASSWORD
from hospeda.gateway.deps import AccountsDep, AuthDep, CompaniesDep, SettingsDep, SignInDep
from hospeda.gateway.domain import Refused
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import REFUSAL_STATUS, ApiError
from hospeda.gateway.routes import auth as auth_api
from hospeda.gateway.schemas.accounts import (
    EmailOnly,
    InvitedSignUp,
    PasswordReset,
    SignUp,
    Token,
)
from hospeda.gateway.schemas.sign_in import Login, SecondFactor
from hospeda.gateway.web.render import (
    describe,
    english,
    field_errors,
    form_of,
    page,
    redirect,
    safe_next,
)

router = APIRouter(include_in_schema=False, route_class=ApiRoute)

Public = Annotated[RequestContext, allow(P.PUBLIC)]
Pending = Annotated[RequestContext, allow(P.MFA_PENDING)]
Signed = Annotated[RequestContext, allow(P.SELF)]


def _parse(model: type[BaseModel], data: dict[str, Any], en: bool) -> tuple[Any, dict[str, str]]:
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        return None, field_errors(exc, en)


@router.get("/")
async def home(ctx: Public, auth: AuthDep) -> Response:
    """The app for someone signed in, the sign-in page for anyone else."""
    signed_in = (await auth.resolve(ctx.request, rotate=False)).principal is not None
    return redirect("/app" if signed_in else "/entrar")


@router.get("/entrar")
async def login_page(
    ctx: Public, settings: SettingsDep, next: str = "", saiu: str = ""
) -> Response:
    return _login(ctx, settings, next=next, signed_out=bool(saiu))


def _login(
    ctx: RequestContext,
    settings: Any,
    *,
    next: str = "",
    email: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
    signed_out: bool = False,
) -> Response:
    demo = {"email": DEMO_EMAIL, "password": DEMO_PASSWORD} if settings.demo else None
    return page(
        ctx.request,
        "entrar.html",
        ctx,
        status=status,
        next=safe_next(next, ""),
        email=email or (DEMO_EMAIL if demo else ""),
        errors=errors or {},
        demo=demo,
        signed_out=signed_out,
    )


@router.post("/entrar")
async def login(
    ctx: Public, request: Request, sign_in: SignInDep, settings: SettingsDep
) -> Response:
    form = await form_of(request)
    en = english(request)
    next_page = safe_next(form.get("next"))
    body, errors = _parse(Login, form, en)
    if body is None:
        return _login(
            ctx, settings, next=next_page, email=form.get("email", ""), errors=errors, status=422
        )
    response = Response()  # the known-device cookie lands here, then on the redirect
    try:
        answer = await auth_api.login(body, ctx, request, response, sign_in, settings)
    except (ApiError, Refused) as exc:
        return _login(
            ctx,
            settings,
            next=next_page,
            email=form.get("email", ""),
            errors={"form": _sentence(exc, en)},
            status=_status(exc),
        )
    if answer.mfa_required:
        return redirect("/entrar/codigo?next=" + quote(next_page, safe="/"))
    return _with_cookies(redirect(next_page), response)


def _with_cookies(target: Response, source: Response) -> Response:
    for name, value in source.raw_headers:
        if name == b"set-cookie":
            target.raw_headers.append((name, value))
    return target


@router.get("/entrar/codigo")
async def second_factor_page(ctx: Pending, next: str = "") -> Response:
    return page(ctx.request, "codigo.html", ctx, next=safe_next(next), errors={})


@router.post("/entrar/codigo")
async def second_factor(
    ctx: Pending, request: Request, sign_in: SignInDep, settings: SettingsDep
) -> Response:
    form = await form_of(request)
    en = english(request)
    next_page = safe_next(form.get("next"))
    body, errors = _parse(SecondFactor, form, en)
    if body is not None:
        response = Response()
        try:
            await auth_api.login_second_factor(body, ctx, request, response, sign_in, settings)
        except (ApiError, Refused) as exc:
            errors = {"code": _sentence(exc, en)}
        else:
            return _with_cookies(redirect(next_page), response)
    return page(request, "codigo.html", ctx, status=422, next=next_page, errors=errors)


@router.post("/sair")
async def logout(ctx: Signed, sign_in: SignInDep) -> Response:
    await auth_api.logout(ctx, sign_in)
    return redirect("/entrar?saiu=1")


@router.get("/cadastro")
async def sign_up_page(ctx: Public) -> Response:
    return page(ctx.request, "cadastro.html", ctx, form={}, errors={})


@router.post("/cadastro")
async def sign_up(ctx: Public, request: Request, accounts: AccountsDep) -> Response:
    form = await form_of(request)
    en = english(request)
    body, errors = _parse(SignUp, {**form, "locale": "en" if en else "pt-BR"}, en)
    if body is not None:
        try:
            await auth_api.sign_up(body, ctx, accounts)
        except (ApiError, Refused) as exc:
            errors = {"form": _sentence(exc, en)}
        else:
            return _message(
                ctx,
                ("Confira seu e-mail", "Check your e-mail"),
                [
                    (
                        f"Enviamos um link de confirmação para {body.email}. Abra-o para ativar a conta.",
                        f"We sent a confirmation link to {body.email}. Open it to activate the account.",
                    )
                ],
            )
    return page(request, "cadastro.html", ctx, status=422, form=form, errors=errors)


# --- the pages e-mailed links open ----------------------------------------------------------

PASSWORD_FIELD = ("password", ("Nova senha", "New password"), "password", "new-password",
                  ("Pelo menos 12 caracteres.", "At least 12 characters."))  # fmt: skip
ACCOUNT_PAGES: dict[str, dict[str, Any]] = {
    "verificar-email": {
        "heading": ("Confirmar e-mail", "Confirm your e-mail"),
        "intro": ("Falta um clique para ativar sua conta.", "One click left to activate your account."),
        "button": ("Confirmar e-mail", "Confirm e-mail"),
        "fields": [],
        "model": Token,
        "done": (("E-mail confirmado", "E-mail confirmed"),
                 ("Sua conta está ativa. Já pode entrar.", "Your account is active. You can sign in now.")),
    },
    "esqueci-a-senha": {
        "heading": ("Esqueci a senha", "Forgot your password"),
        "intro": ("Enviaremos um link para você criar uma nova senha.", "We will e-mail you a link to set a new password."),
        "button": ("Enviar o link", "Send the link"),
        "fields": [("email", ("E-mail", "E-mail"), "email", "email", None)],
        "model": EmailOnly,
        "done": (("Confira seu e-mail", "Check your e-mail"),
                 ("Se houver uma conta com esse e-mail, o link chega em instantes.",
                  "If an account has that e-mail, the link arrives in a moment.")),
    },
    "redefinir-senha": {
        "heading": ("Nova senha", "New password"),
        "intro": None,
        "button": ("Definir a nova senha", "Set the new password"),
        "fields": [PASSWORD_FIELD],
        "model": PasswordReset,
        "done": (("Senha trocada", "Password changed"),
                 ("Entre com a nova senha. As outras sessões foram encerradas.",
                  "Sign in with the new password. Other sessions were ended.")),
    },
    "convite": {
        "heading": ("Entrar na equipe", "Join the team"),
        "intro": ("Crie sua conta para aceitar o convite.", "Create your account to accept the invitation."),
        "button": ("Criar conta e entrar", "Create account and join"),
        "fields": [("name", ("Seu nome", "Your name"), "text", "name", None), PASSWORD_FIELD],
        "model": InvitedSignUp,
        "done": (("Bem-vindo(a)!", "Welcome!"),
                 ("Sua conta foi criada. Entre para ver a empresa.", "Your account is ready. Sign in to see the company.")),
    },
}  # fmt: skip


def _account(
    ctx: RequestContext,
    action: str,
    *,
    token: str = "",
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    spec = ACCOUNT_PAGES[action]
    en = english(ctx.request)

    def pick(pair: tuple[str, str] | None) -> str | None:
        return (pair[1] if en else pair[0]) if pair else None

    return page(
        ctx.request,
        "conta.html",
        ctx,
        status=status,
        action=action,
        token=token,
        heading=pick(spec["heading"]),
        intro=pick(spec["intro"]),
        button=pick(spec["button"]),
        fields=[(n, pick(lbl), ty, ac, pick(h)) for n, lbl, ty, ac, h in spec["fields"]],
        form=form or {},
        errors=errors or {},
    )


@router.get("/conta/{action}")
async def account_page(action: str, ctx: Public, token: str = "") -> Response:
    if action not in ACCOUNT_PAGES:
        raise ApiError("route_not_found", 404)
    # the link only opens the form: a mail scanner that follows it changes nothing
    return _account(ctx, action, token=token)


@router.post("/conta/{action}")
async def account_form(
    action: str,
    ctx: Public,
    request: Request,
    accounts: AccountsDep,
    companies: CompaniesDep,
) -> Response:
    if action not in ACCOUNT_PAGES:
        raise ApiError("route_not_found", 404)
    form = await form_of(request)
    en = english(request)
    spec = ACCOUNT_PAGES[action]
    body, errors = _parse(spec["model"], {**form, "locale": "en" if en else "pt-BR"}, en)
    if "token" in errors:
        errors = {"form": _link_problem(en)}
    if body is not None:
        try:
            if action == "verificar-email":
                await auth_api.verify_email(body, ctx, accounts)
            elif action == "esqueci-a-senha":
                await auth_api.forgot_password(body, ctx, accounts)
            elif action == "redefinir-senha":
                await auth_api.reset_password(body, ctx, accounts)
            else:
                await auth_api.sign_up_invited(body, ctx, companies)
        except (ApiError, Refused) as exc:
            errors = {"form": _sentence(exc, en)}
        else:
            heading, line = spec["done"]
            return _message(ctx, heading, [line], link=("/entrar", ("Entrar", "Sign in")))
    return _account(ctx, action, token=form.get("token", ""), form=form, errors=errors, status=422)


def _link_problem(en: bool) -> str:
    return (
        "This link is incomplete. Open it again from the e-mail."
        if en
        else "Este link está incompleto. Abra-o de novo a partir do e-mail."
    )


def _message(
    ctx: RequestContext,
    heading: tuple[str, str],
    lines: list[tuple[str, str]],
    link: tuple[str, tuple[str, str]] | None = None,
) -> Response:
    en = english(ctx.request)
    return page(
        ctx.request,
        "mensagem.html",
        ctx,
        heading=heading[1] if en else heading[0],
        lines=[en_text if en else pt for pt, en_text in lines],
        link=(link[0], link[1][1] if en else link[1][0]) if link else None,
    )


def _sentence(exc: ApiError | Refused, en: bool) -> str:
    return describe(exc, en)


def _status(exc: ApiError | Refused) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    return REFUSAL_STATUS.get(exc.code, 400)
