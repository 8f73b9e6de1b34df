"""Rendering the web app's pages: one Jinja2 environment, the person's language,
errors as text next to the field, and the answers a page gives (a page, a
redirect after a form, the 401/403/404 pages).

Pages are pt-BR first; a browser that ranks English higher gets English
(``Accept-Language``, like the API's problems). Templates say both with
``t("…", "…")``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError

from hospeda.gateway.context import RequestContext
from hospeda.gateway.domain import Refused
from hospeda.gateway.problems import (
    MESSAGES,
    ApiError,
    _field_errors,
    pick_language,
    prefers_english,
)

HERE = Path(__file__).parent
STATIC = HERE / "static"

env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

CYCLES = {
    "monthly": ("mensal", "monthly"),
    "quarterly": ("trimestral", "quarterly"),
    "semiannual": ("semestral", "semi-annual"),
    "annual": ("anual", "annual"),
    "biennial": ("bienal", "biennial"),
    "one_time": ("avulso", "one-time"),
}
STATUSES = {
    # invoices
    "draft": ("rascunho", "draft"),
    "open": ("em aberto", "open"),
    "overdue": ("vencida", "overdue"),
    "paid": ("pago", "paid"),
    "void": ("anulada", "void"),
    "partially_refunded": ("estornada em parte", "partly refunded"),
    "refunded": ("estornada", "refunded"),
    # services and subscriptions
    "pending": ("pendente", "pending"),
    "provisioning": ("criando", "being created"),
    "active": ("ativo", "active"),
    "suspended": ("suspenso", "suspended"),
    "terminated": ("encerrado", "terminated"),
    "failed": ("falhou", "failed"),
    "started": ("em andamento", "in progress"),
    "retry": ("nova tentativa", "retrying"),
    "provisioning_failed": ("ativação com falha", "activation failed"),
    "canceled": ("cancelado", "canceled"),
    "cancelled": ("cancelado", "canceled"),
    "ended": ("encerrado", "ended"),
    "past_due": ("em atraso", "past due"),
    # jobs
    "queued": ("na fila", "queued"),
    "running": ("em andamento", "running"),
    "retrying": ("tentando de novo", "retrying"),
    "succeeded": ("concluído", "done"),
    "done": ("concluído", "done"),
    "dead": ("falhou de vez", "failed for good"),
    # dns delegation
    "not_started": ("não iniciada", "not started"),
    "verified": ("verificada", "verified"),
    "lost": ("perdida", "lost"),
    # payments
    "requires_action": ("aguardando pagamento", "waiting for payment"),
    "processing": ("processando", "processing"),
}
INVOICE_KINDS = {
    "order": ("Pedido", "Order"),
    "renewal": ("Renovação", "Renewal"),
    "addon": ("Adicional", "Add-on"),
    "change": ("Mudança de plano", "Plan change"),
}
ROLES = {
    "owner": ("Proprietário", "Owner"),
    "admin": ("Administrador", "Admin"),
    "billing": ("Financeiro", "Billing"),
    "technical": ("Técnico", "Technical"),
    "viewer": ("Leitura", "Viewer"),
}
CATEGORIES = {
    "billing": ("Cobrança", "Billing"),
    "service": ("Serviços", "Services"),
    "security": ("Segurança", "Security"),
    "legal": ("Avisos legais", "Legal"),
    "marketing": ("Novidades", "News"),
    "operations": ("Operação", "Operations"),
}
STEPS = {
    # provisioning's job steps, in plain words (the part before ":")
    "validate": ("Conferindo o pedido", "Checking the order"),
    "place": ("Escolhendo o servidor", "Choosing the server"),
    "username": ("Escolhendo o usuário", "Choosing the username"),
    "whm.createacct": ("Criando a conta de hospedagem", "Creating the hosting account"),
    "email.add_pop": ("Criando caixa de e-mail", "Creating a mailbox"),
    "mysql.create_database": ("Criando o banco de dados", "Creating the database"),
    "mysql.create_user": ("Criando o usuário do banco", "Creating the database user"),
    "mysql.set_privileges": ("Dando acesso ao banco", "Granting database access"),
    "ssl": ("Instalando o certificado SSL", "Installing the SSL certificate"),
    "dns": ("Configurando o DNS", "Setting up DNS"),
    "whm.suspendacct": ("Suspendendo a conta", "Suspending the account"),
    "whm.unsuspendacct": ("Reativando a conta", "Reactivating the account"),
    "whm.changepackage": ("Mudando o plano", "Changing the plan"),
}
CHANNELS = {"email": ("E-mail", "E-mail"), "push": ("Push", "Push")}


def english(request: Request) -> bool:
    return prefers_english(request.headers.get("accept-language"))


def money(value: dict[str, Any] | None, en: bool = False) -> str:
    """Integer cents as ``R$ 1.234,56`` (``R$1,234.56`` in English)."""
    if not value:
        return "—"
    cents = int(value.get("amount", 0))
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    symbol = "R$" if value.get("currency", "BRL") == "BRL" else value.get("currency", "")
    if en:
        return f"{sign}{symbol}{whole:,}.{part:02d}"
    return f"{sign}{symbol} {whole:,}".replace(",", ".") + f",{part:02d}"


def cents(text: str) -> int:
    """An amount typed in reais ("19,90", "1.234,56", "R$ 49", "19.90") as cents;
    ``ValueError`` when it is not one."""
    plain = text.strip().removeprefix("R$").strip().replace(" ", "")
    if "," in plain:  # Brazilian: dots group thousands, the comma starts the cents
        plain = plain.replace(".", "").replace(",", ".")
    whole, _, part = plain.partition(".")
    if not whole.isdigit() or (part and not (part.isdigit() and len(part) <= 2)):
        raise ValueError(f"not an amount in reais: {text!r}")
    return int(whole) * 100 + int(part.ljust(2, "0") or 0)


def when(value: str | datetime | None, en: bool = False, *, time: bool = True) -> str:
    """An instant (ISO text from a service, or the gateway's own datetime) as a
    short date (UTC; the page's script shows local time)."""
    if not value:
        return "—"
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if en:
        return moment.strftime("%Y-%m-%d %H:%M UTC" if time else "%Y-%m-%d")
    return moment.strftime("%d/%m/%Y %H:%M UTC" if time else "%d/%m/%Y")


def step_text(step: str | None, en: bool) -> str:
    if not step:
        return ""
    head, _, detail = step.partition(":")
    pair = STEPS.get(head)
    text = (pair[1] if en else pair[0]) if pair else step
    return f"{text} ({detail})" if pair and detail else text


def page(
    request: Request,
    template: str,
    ctx: RequestContext | None = None,
    *,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    """``template`` rendered for this request."""
    en = english(request)

    def t(pt: str, en_text: str) -> str:
        return en_text if en else pt

    def label(table: dict[str, tuple[str, str]], key: str | None) -> str:
        pair = table.get(key or "")
        return (pair[1] if en else pair[0]) if pair else (key or "—")

    principal = ctx.principal if ctx is not None else None
    session = principal.session if principal is not None else None
    csrf = session.csrf if session is not None else ""  # the current (maybe rotated) session's
    body = env.get_template(template).render(
        request=request,
        path=request.url.path,
        en=en,
        lang="en" if en else "pt-BR",
        t=t,
        money=lambda v: money(v, en),
        when=lambda v, time=True: when(v, en, time=time),
        cycle=lambda c: label(CYCLES, c),
        status_text=lambda s: label(STATUSES, s),
        kind_text=lambda k: label(INVOICE_KINDS, k),
        role_text=lambda r: label(ROLES, r),
        category_text=lambda c: label(CATEGORIES, c),
        channel_text=lambda c: label(CHANNELS, c),
        step_text=lambda s: step_text(s, en),
        me=principal,
        can=lambda p: principal is not None and p in principal.permissions,
        csrf=csrf,
        **values,
    )
    headers = {"Content-Language": "en" if en else "pt-BR", "Cache-Control": "no-store"}
    return HTMLResponse(body, status_code=status, headers=headers)


def redirect(url: str) -> RedirectResponse:
    """After a form: see the result with a GET (a reload sends nothing twice)."""
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None, default: str = "/app") -> str:
    """Where to go after signing in: only a path on this site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def login_url(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/entrar?next=" + quote(here, safe="/")


def confirm_url(request: Request) -> str:
    """The re-authentication page, coming back to this page (or, after a form, to
    the page the form was on)."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        referer = urlsplit(request.headers.get("referer", ""))
        same_site = referer.netloc == request.url.netloc
        here = referer.path if same_site and referer.path else "/app/seguranca"
    return "/app/confirmar?next=" + quote(here, safe="/")


def describe(exc: ApiError | Refused, en: bool) -> str:
    """The person-readable sentence for a refusal, in their language."""
    code = exc.code
    params = getattr(exc, "params", {}) or {}
    if code not in MESSAGES:
        return code
    _, _, pt, en_text = MESSAGES[code]
    values = {
        k: pick_language(v, en) if k == "message" and isinstance(v, str) else v
        for k, v in params.items()
    }
    try:
        return (en_text if en else pt).format(**values)
    except (KeyError, IndexError):
        return en_text if en else pt


def field_errors(exc: ValidationError, en: bool) -> dict[str, str]:
    """pydantic's complaints as ``{field: sentence}`` (the API's wording)."""
    found: dict[str, str] = {}
    for error in _field_errors(exc.errors(), en):
        name = error["field"].split(".")[-1] if error["field"] else "form"
        found.setdefault(name, error["message"])
    return found


async def form_of(request: Request) -> dict[str, str]:
    """The posted form as plain strings (no files here)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
