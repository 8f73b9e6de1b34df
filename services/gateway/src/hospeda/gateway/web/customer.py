"""The customer area, ``/app/…``: services with live provisioning, the shop
(plans, add-ons, changes with the prorated amount shown first), invoices with
card and Pix, DNS, notifications, the company (switcher, members, invitations,
API tokens) and the person's own security (2FA).

Every page declares its permission with ``allow`` (the API's matrix): a person
signed out is sent to ``/entrar?next=…``, a role without it gets the 403 page.
Reads go to the owning service through the ``Forwarder`` like the API's;
changes call the API's own route functions (same checks, same audit). After a
form the browser is redirected (303) to a page that says what happened.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from hospeda.contracts.identity import CompanyRole
from hospeda.gateway.api import ApiRoute, allow
from hospeda.gateway.config import GatewaySettings
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import (
    AccountsDep,
    CompaniesDep,
    ForwardDep,
    SettingsDep,
    SignInDep,
    TokensDep,
)
from hospeda.gateway.domain import Refused
from hospeda.gateway.permissions import TOKEN_GRANTABLE
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import ApiError
from hospeda.gateway.routes import auth as auth_api
from hospeda.gateway.routes import billing as billing_api
from hospeda.gateway.routes import company as company_api
from hospeda.gateway.routes import dns as dns_api
from hospeda.gateway.routes import me as me_api
from hospeda.gateway.routes import notifications as notify_api
from hospeda.gateway.routes import provisioning as provisioning_api
from hospeda.gateway.schemas.accounts import PasswordChange
from hospeda.gateway.schemas.billing import (
    AddonIn,
    ChangeIn,
    ConfirmIn,
    OrderIn,
    PayIn,
    PixReceivedIn,
    RefundIn,
    SubscriptionCancelIn,
    VoidIn,
)
from hospeda.gateway.schemas.companies import InvitationIn, RoleChange, SwitchCompany
from hospeda.gateway.schemas.dns import RecordIn
from hospeda.gateway.schemas.notifications import MarkItem, SettingsIn
from hospeda.gateway.schemas.provisioning import ServiceActionIn
from hospeda.gateway.schemas.sign_in import Reauthenticate, SecondFactor
from hospeda.gateway.schemas.tokens import TokenIn
from hospeda.gateway.security import totp_uri
from hospeda.gateway.web.qr import qr_svg_data_uri
from hospeda.gateway.web.render import (
    cents,
    describe,
    english,
    field_errors,
    form_of,
    page,
    redirect,
    safe_next,
)

router = APIRouter(prefix="/app", include_in_schema=False, route_class=ApiRoute)


# what each page needs (the API's permission matrix)
Signed = Annotated[RequestContext, allow(P.SELF)]
Recent = Annotated[RequestContext, allow(P.SELF, recent=True)]  # the API's sensitive changes
CompanyRead = Annotated[RequestContext, allow(P.COMPANY_READ)]
DnsRead = Annotated[RequestContext, allow(P.DNS_READ)]
DnsWrite = Annotated[RequestContext, allow(P.DNS_WRITE)]
InvoicesAdjust = Annotated[RequestContext, allow(P.INVOICES_ADJUST)]  # staff acting on it
InvoicesPay = Annotated[RequestContext, allow(P.INVOICES_PAY)]
InvoicesRead = Annotated[RequestContext, allow(P.INVOICES_READ)]
MembersManage = Annotated[RequestContext, allow(P.MEMBERS_MANAGE)]
OrdersCreate = Annotated[RequestContext, allow(P.ORDERS_CREATE)]
OrdersRead = Annotated[RequestContext, allow(P.ORDERS_READ)]
ServicesRead = Annotated[RequestContext, allow(P.SERVICES_READ)]
ServicesOperate = Annotated[RequestContext, allow(P.SERVICES_OPERATE)]  # staff acting on it
SubscriptionsManage = Annotated[RequestContext, allow(P.SUBSCRIPTIONS_MANAGE)]
TokensManage = Annotated[RequestContext, allow(P.TOKENS_MANAGE)]
TokensCreate = Annotated[RequestContext, allow(P.TOKENS_MANAGE, recent=True)]
TokensRead = Annotated[RequestContext, allow(P.TOKENS_READ)]
BILLING = "billing"

# what a redirect after a form says (codes only: nothing from the URL is shown as text)
NOTICES = {
    "ordered": ("Pedido recebido. A fatura aparece em instantes.", "Order received. The invoice appears in a moment."),
    "paying": ("Pagamento iniciado.", "Payment started."),
    "operated": ("Pedido enviado ao provisionamento; o estado muda em instantes.", "Sent to provisioning; the state changes in a moment."),
    "adjusted": ("Pedido enviado ao faturamento; a fatura muda em instantes.", "Sent to billing; the invoice changes in a moment."),
    "addon": ("Adicional contratado; a fatura aparece em Faturas.", "Add-on ordered; its invoice is in Invoices."),
    "changed": ("Mudança enviada.", "Change sent."),
    "cancelled": ("Cancelamento registrado.", "Cancellation recorded."),
    "record": ("Registro enviado ao DNS.", "Record sent to DNS."),
    "deleted": ("Registro removido.", "Record removed."),
    "read": ("Marcado como lido.", "Marked as read."),
    "prefs": ("Preferências salvas.", "Preferences saved."),
    "switched": ("Empresa trocada.", "Company switched."),
    "invited": ("Convite enviado por e-mail.", "Invitation e-mailed."),
    "revoked": ("Revogado.", "Revoked."),
    "role": ("Papel alterado.", "Role changed."),
    "removed": ("Membro removido.", "Member removed."),
    "password": ("Senha trocada; as outras sessões foram encerradas.", "Password changed; other sessions were ended."),
    "2fa-off": ("Verificação em duas etapas desativada.", "Two-step verification turned off."),
}  # fmt: skip


def _show(
    request: Request, ctx: RequestContext, template: str, *, status: int = 200, **values: Any
) -> Response:
    en = english(request)
    notice = NOTICES.get(request.query_params.get("ok", ""))
    return page(
        request,
        template,
        ctx,
        status=status,
        notice=(notice[1] if en else notice[0]) if notice else None,
        **values,
    )


ModelT = TypeVar("ModelT", bound=BaseModel)


def _form(model: type[ModelT], data: dict[str, Any]) -> ModelT:
    """A form behind a button (no fields to show errors beside): bad input is a 422 page."""
    try:
        return model.model_validate(data)
    except ValidationError:
        raise ApiError("validation_failed", 422) from None


def _parse(model: type[BaseModel], data: dict[str, Any], en: bool) -> tuple[Any, dict[str, str]]:
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        return None, field_errors(exc, en)


def _refusal(exc: ApiError | Refused, en: bool) -> dict[str, str]:
    """A refusal next to its field when the service named one, else on the form."""
    message = describe(exc, en)
    errors = getattr(exc, "extra", {}).get("errors") if isinstance(exc, ApiError) else None
    if errors:
        return {e["field"].split(".")[-1]: e["message"] for e in errors}
    return {"form": message}


# --- services ---------------------------------------------------------------------------------


@router.get("")
async def start(ctx: CompanyRead) -> Response:
    return redirect("/app/servicos")


@router.get("/servicos")
async def services(ctx: ServicesRead, forward: ForwardDep) -> Response:
    answer = await forward.page(ctx, "provisioning", "services.list", limit=50, cursor=None)
    return _show(ctx.request, ctx, "servicos.html", services=answer.items, live="services")


@router.get("/servicos/{service_id}")
async def service(service_id: UUID, ctx: ServicesRead, forward: ForwardDep) -> Response:
    item = await forward.get(ctx, "provisioning", "services.get", service_id=service_id)
    subscription = None
    if item.get("subscription_id") and P.SUBSCRIPTIONS_READ in ctx.me.permissions:
        try:
            subscription = await forward.get(
                ctx, BILLING, "subscriptions.get", subscription_id=item["subscription_id"]
            )
        except ApiError:
            subscription = None  # billing is slow or does not know it yet: the page still opens
    addons_all: list[dict[str, Any]] = []
    addons_for_sale: list[dict[str, Any]] = []
    if subscription is not None and P.SUBSCRIPTIONS_MANAGE in ctx.me.permissions:
        catalog = await forward.page(ctx, BILLING, "catalog.list", limit=100, cursor=None)
        addons_all = [p for p in catalog.items if p["kind"] == "addon"]
        owned = {
            a["product_code"]
            for a in subscription.get("addons", [])
            if a["status"] in ("active", "pending", "provisioning_failed")
        }
        addons_for_sale = [p for p in addons_all if p["code"] not in owned]
    return _show(
        ctx.request,
        ctx,
        "servico.html",
        service=item,
        job=item.get("last_job"),
        subscription=subscription,
        addons_for_sale=addons_for_sale,
        addons_all=addons_all,
        live="service",
    )


@router.post("/servicos/{service_id}/equipe/{action}")
async def operate(
    service_id: UUID,
    action: Literal["suspender", "reativar"],
    ctx: ServicesOperate,
    request: Request,
    forward: ForwardDep,
) -> Response:
    """Operators acting on the company: suspend a site (abuse, malware) or lift that."""
    form = await form_of(request)
    en = english(request)
    body, errors = _parse(ServiceActionIn, {"reason": form.get("reason", "").strip()}, en)
    if body is not None:
        run = (
            provisioning_api.suspend_service
            if action == "suspender"
            else (provisioning_api.unsuspend_service)
        )
        try:
            await run(service_id, body, ctx, forward)
        except (ApiError, Refused) as exc:
            errors = _refusal(exc, en)
        else:
            return redirect(f"/app/servicos/{service_id}?ok=operated")
    item = await forward.get(ctx, "provisioning", "services.get", service_id=service_id)
    return _show(
        request,
        ctx,
        "servico.html",
        status=422,
        service=item,
        job=item.get("last_job"),
        subscription=None,
        addons_for_sale=[],
        addons_all=[],
        operate_errors=errors,
        operate_form=form,
    )


# --- the shop -----------------------------------------------------------------------------------


@router.get("/loja")
async def shop(ctx: OrdersCreate, forward: ForwardDep) -> Response:
    return await _shop(ctx, forward, form={}, errors={})


async def _shop(
    ctx: RequestContext,
    forward: Any,
    *,
    form: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    catalog = await forward.page(ctx, BILLING, "catalog.list", limit=100, cursor=None)
    plans = sorted(
        (p for p in catalog.items if p["kind"] == "plan"),
        key=lambda p: min((price["amount"]["amount"] for price in p["prices"]), default=0),
    )
    addons = [p for p in catalog.items if p["kind"] == "addon"]
    return _show(
        ctx.request,
        ctx,
        "loja.html",
        status=status,
        plans=plans,
        addons=addons,
        form=form,
        errors=errors,
    )


@router.post("/loja")
async def order(ctx: OrdersCreate, request: Request, forward: ForwardDep) -> Response:
    form = await request.form()
    en = english(request)
    data = {
        "plan_code": form.get("plan_code"),
        "domain": str(form.get("domain") or "").strip().lower(),
        "cycle": form.get("cycle"),
        "addons": [{"code": code} for code in form.getlist("addons") if isinstance(code, str)],
    }
    body, errors = _parse(OrderIn, data, en)
    if body is not None:
        try:
            accepted = await billing_api.place_order(body, ctx, forward, Response())
        except (ApiError, Refused) as exc:
            errors = _refusal(exc, en)
        else:
            return redirect(f"/app/pedidos/{accepted.resource_id}?ok=ordered")
    chosen = {**data, "addons": [a["code"] for a in data["addons"]]}
    return await _shop(ctx, forward, form=chosen, errors=errors, status=422)


@router.get("/pedidos/{order_id}")
async def order_page(order_id: UUID, ctx: OrdersRead, forward: ForwardDep) -> Response:
    try:
        found = await forward.get(ctx, BILLING, "orders.get", order_id=order_id)
    except ApiError as exc:
        if exc.status != 404:
            raise
        found = None  # billing has not recorded it yet: the page waits for it live
    return _show(ctx.request, ctx, "pedido.html", order=found, order_id=order_id, live="order")


# --- subscriptions: add, change and cancel add-ons (and plans), with the amount first ---------


async def _quote(
    ctx: RequestContext, forward: Any, subscription_id: UUID, action: str, code: str | None
) -> dict[str, Any]:
    """Billing's answer to "what would this cost now?" (``subscriptions.quote``)."""
    params: dict[str, Any] = {"subscription_id": str(subscription_id), "action": action}
    if code:
        params["to_code"] = code
    answer: dict[str, Any] = await forward.ask(ctx, BILLING, "subscriptions.quote", params)
    return answer


@router.get("/assinaturas/{subscription_id}/{action}")
async def confirm_change(
    subscription_id: UUID,
    action: str,
    ctx: SubscriptionsManage,
    forward: ForwardDep,
    codigo: str | None = None,
) -> Response:
    """Before any change: what it costs now (prorated), or what is credited."""
    if action not in ("adicionar", "mudar", "cancelar"):
        raise ApiError("route_not_found", 404)
    subscription = await forward.get(
        ctx, BILLING, "subscriptions.get", subscription_id=subscription_id
    )
    kind = {"adicionar": "add", "mudar": "change", "cancelar": "cancel"}[action]
    quote_answer = await _quote(ctx, forward, subscription_id, kind, codigo)
    return _show(
        ctx.request,
        ctx,
        "confirmar.html",
        subscription=subscription,
        action=action,
        code=codigo,
        quote=quote_answer,
    )


@router.post("/assinaturas/{subscription_id}/{action}")
async def apply_change(
    subscription_id: UUID,
    action: str,
    ctx: SubscriptionsManage,
    request: Request,
    forward: ForwardDep,
) -> Response:
    form = await form_of(request)
    en = english(request)
    code = form.get("codigo") or None
    subscription = await forward.get(
        ctx, BILLING, "subscriptions.get", subscription_id=subscription_id
    )
    back = f"/app/servicos/{subscription['service_id']}"
    try:
        if action == "adicionar":
            await billing_api.purchase_addon(
                subscription_id, AddonIn(addon_code=code or ""), ctx, forward
            )
            return redirect(back + "?ok=addon")
        if action == "mudar":
            await billing_api.change_subscription(
                subscription_id, ChangeIn(to_code=code or ""), ctx, forward
            )
            return redirect(back + "?ok=changed")
        if action == "cancelar":
            await billing_api.cancel_subscription(
                subscription_id, SubscriptionCancelIn(at_period_end=False), ctx, forward
            )
            return redirect(back + "?ok=cancelled")
    except ValidationError as exc:
        errors = field_errors(exc, en)
    except (ApiError, Refused) as exc:
        errors = _refusal(exc, en)
    else:
        raise ApiError("route_not_found", 404)
    quote_answer = await _quote(
        ctx,
        forward,
        subscription_id,
        {"adicionar": "add", "mudar": "change"}.get(action, "cancel"),
        code,
    )
    return _show(
        request,
        ctx,
        "confirmar.html",
        status=422,
        subscription=subscription,
        action=action,
        code=code,
        quote=quote_answer,
        errors=errors,
    )


# --- invoices -------------------------------------------------------------------------------


@router.get("/faturas")
async def invoices(ctx: InvoicesRead, forward: ForwardDep) -> Response:
    answer = await forward.page(ctx, BILLING, "invoices.list", limit=50, cursor=None)
    return _show(ctx.request, ctx, "faturas.html", invoices=answer.items, live="invoices")


@router.get("/faturas/{invoice_id}")
async def invoice(
    invoice_id: UUID, ctx: InvoicesRead, forward: ForwardDep, settings: SettingsDep
) -> Response:
    item = await forward.get(ctx, BILLING, "invoices.get", invoice_id=invoice_id)
    pending = next(
        (p for p in item.get("payments", []) if p.get("status") == "requires_action"), None
    )
    action = (pending or {}).get("next_action") or {}
    if action.get("copy_paste") and not action.get("qr_png"):
        # drawn here: the page loads images from itself only (CSP), never the PSP's URL
        action["qr_png"] = qr_svg_data_uri(action["copy_paste"])
    # a payment that has not reached the provider's answer yet announces nothing: look again
    waiting = item.get("status") in ("open", "overdue") and (
        any(p.get("status") == "pending" for p in item.get("payments", []))
        or (ctx.request.query_params.get("ok") == "paying" and pending is None)
    )
    return _show(
        ctx.request,
        ctx,
        "fatura.html",
        invoice=item,
        pending=pending,
        waiting=waiting,
        live="invoice",
        pix_method=settings.pix_method,
        test_bank=_test_bank(settings, pending),
    )


def _test_bank(settings: GatewaySettings, pending: dict[str, Any] | None) -> str | None:
    """``make run``: where the simulator's test bank pays this Pix charge."""
    if not settings.demo_pix_bank_url or not pending or pending.get("provider") != "psp":
        return None
    return f"{settings.demo_pix_bank_url.rstrip('/')}/{pending.get('provider_reference')}"


@router.post("/faturas/{invoice_id}/pagar")
async def pay(
    invoice_id: UUID,
    ctx: InvoicesPay,
    request: Request,
    forward: ForwardDep,
    settings: SettingsDep,
) -> Response:
    form = await form_of(request)
    en = english(request)
    method = form.get("method", "")
    card = form.get("card") or None
    body, errors = _parse(
        PayIn, {"method": method, "payment_method_ref": card if method == "card" else None}, en
    )
    if body is not None:
        try:
            await billing_api.pay_invoice(invoice_id, body, ctx, forward)
        except (ApiError, Refused) as exc:
            errors = _refusal(exc, en)
        else:
            return redirect(f"/app/faturas/{invoice_id}?ok=paying#pagamento")
    return await _invoice_again(ctx, forward, settings, invoice_id, errors=errors)


async def _invoice_again(
    ctx: RequestContext,
    forward: ForwardDep,
    settings: GatewaySettings,
    invoice_id: UUID,
    **values: Any,
) -> Response:
    """The invoice page again, as it is now, with what was wrong in a form (422)."""
    item = await forward.get(ctx, BILLING, "invoices.get", invoice_id=invoice_id)
    return _show(
        ctx.request,
        ctx,
        "fatura.html",
        status=422,
        invoice=item,
        pending=None,
        pix_method=settings.pix_method,
        **values,
    )


# staff acting on the company: void, refund, and a direct Pix found on the bank statement
@router.post("/faturas/{invoice_id}/equipe/{action}")
async def adjust(
    invoice_id: UUID,
    action: Literal["anular", "estornar", "pix-recebido"],
    ctx: InvoicesAdjust,
    request: Request,
    forward: ForwardDep,
    settings: SettingsDep,
) -> Response:
    """The API's staff routes for an invoice, from its page (each with a reason,
    kept in the audit trail)."""
    form = await form_of(request)
    en = english(request)
    amount, errors = _amount(form.get("amount", ""), en, required=action == "pix-recebido")
    reason = form.get("reason", "").strip()
    body: Any = None
    if not errors:
        if action == "anular":
            body, errors = _parse(VoidIn, {"reason": reason}, en)
        elif action == "estornar":
            money = {"amount": amount, "currency": "BRL"} if amount else None
            body, errors = _parse(RefundIn, {"amount": money, "reason": reason}, en)
        else:
            data = {
                "txid": form.get("txid", "").strip(),
                "amount": {"amount": amount, "currency": "BRL"},
                "end_to_end_id": form.get("end_to_end_id", "").strip() or None,
                "reason": reason,
            }
            body, errors = _parse(PixReceivedIn, data, en)
    if body is not None:
        try:
            if action == "anular":
                await billing_api.void_invoice(invoice_id, body, ctx, forward)
            elif action == "estornar":
                await billing_api.refund_invoice(invoice_id, body, ctx, forward)
            else:
                await billing_api.record_pix_received(invoice_id, body, ctx, forward)
        except (ApiError, Refused) as exc:
            errors = _refusal(exc, en)
        else:
            return redirect(f"/app/faturas/{invoice_id}?ok=adjusted")
    return await _invoice_again(
        ctx,
        forward,
        settings,
        invoice_id,
        adjust_errors={action: errors},
        adjust_form={action: form},
    )


def _amount(text: str, en: bool, *, required: bool) -> tuple[int | None, dict[str, str]]:
    if not text.strip():
        if not required:
            return None, {}
        return None, {"amount": "Required." if en else "Obrigatório."}
    try:
        value = cents(text)
    except ValueError:
        message = "Reais and cents, e.g. 19,90." if en else "Em reais e centavos, ex.: 19,90."
        return None, {"amount": message}
    if value <= 0:
        return None, {"amount": "Must be more than zero." if en else "Tem de ser maior que zero."}
    return value, {}


@router.get("/pagamento/retorno")
async def payment_return(ctx: InvoicesPay, request: Request) -> Response:
    """Where Stripe sends the customer back after 3-D Secure (billing's
    ``BILLING_RETURN_URL``). The page posts the confirmation (a GET changes nothing)."""
    query = request.query_params
    return _show(
        request,
        ctx,
        "retorno.html",
        invoice_id=query.get("invoice", ""),
        payment_intent=query.get("payment_intent", ""),
        failed=query.get("redirect_status") == "failed",
    )


@router.post("/pagamento/retorno")
async def payment_returned(ctx: InvoicesPay, request: Request, forward: ForwardDep) -> Response:
    form = await form_of(request)
    try:
        invoice_id = UUID(form.get("invoice", ""))
    except ValueError:
        raise ApiError("not_found", 404) from None
    body = _form(ConfirmIn, {"payment_intent_id": form.get("payment_intent", "")})
    await billing_api.confirm_payment(invoice_id, body, ctx, forward)
    return redirect(f"/app/faturas/{invoice_id}?ok=paying")


# --- DNS --------------------------------------------------------------------------------------


@router.get("/dns")
async def zones(ctx: DnsRead, forward: ForwardDep) -> Response:
    answer = await forward.page(ctx, "dns", "zones.list", limit=50, cursor=None)
    return _show(ctx.request, ctx, "dns.html", zones=answer.items, live="dns")


async def _zone(
    ctx: RequestContext,
    forward: Any,
    domain: str,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    zone = await forward.get(ctx, "dns", "zones.get", domain=domain)
    return _show(
        ctx.request,
        ctx,
        "zona.html",
        status=status,
        zone=zone,
        form=form or {"type": "A", "ttl": "3600"},
        errors=errors or {},
        live="dns",
    )


@router.get("/dns/{domain}")
async def zone(domain: str, ctx: DnsRead, forward: ForwardDep) -> Response:
    return await _zone(ctx, forward, domain)


@router.post("/dns/{domain}/registros")
async def add_record(domain: str, ctx: DnsWrite, request: Request, forward: ForwardDep) -> Response:
    form = await form_of(request)
    en = english(request)
    record: dict[str, Any] = {
        "type": form.get("type", ""),
        "name": form.get("name", "").strip() or "@",
        "content": form.get("content", "").strip(),
        "ttl": form.get("ttl") or 3600,
    }
    if form.get("priority"):
        record["priority"] = form["priority"]
    body, errors = _parse(RecordIn, {"record": record}, en)
    if body is not None:
        try:
            await dns_api.create_record(domain, body, ctx, forward)
        except (ApiError, Refused) as exc:
            errors = _refusal(exc, en)
        else:
            return redirect(f"/app/dns/{domain}?ok=record")
    return await _zone(ctx, forward, domain, form=form, errors=errors, status=422)


@router.post("/dns/{domain}/registros/{record_id}/apagar")
async def delete_record(
    domain: str, record_id: str, ctx: DnsWrite, forward: ForwardDep
) -> Response:
    await dns_api.delete_record(domain, record_id, ctx, forward)
    return redirect(f"/app/dns/{domain}?ok=deleted")


# --- notifications ------------------------------------------------------------------------------


@router.get("/notificacoes")
async def inbox(ctx: Signed, forward: ForwardDep, estado: str = "inbox") -> Response:
    state = estado if estado in ("inbox", "unread", "read") else "inbox"
    answer = await notify_api.inbox(ctx, forward, state=state, limit=50, cursor=None)
    return _show(ctx.request, ctx, "notificacoes.html", inbox=answer, state=state, live="inbox")


@router.post("/notificacoes/lidas")
async def read_everything(ctx: Signed, forward: ForwardDep) -> Response:
    await notify_api.read_all(ctx, forward)
    return redirect("/app/notificacoes?ok=read")


@router.post("/notificacoes/{item_id}")
async def mark(item_id: UUID, ctx: Signed, request: Request, forward: ForwardDep) -> Response:
    form = await form_of(request)
    await notify_api.mark(item_id, MarkItem(read=form.get("read") != "0"), ctx, forward)
    return redirect("/app/notificacoes?ok=read")


@router.get("/notificacoes/preferencias")
async def preferences(ctx: Signed, forward: ForwardDep) -> Response:
    current = await notify_api.get_settings(ctx, forward)
    return _show(ctx.request, ctx, "preferencias.html", settings=current)


@router.post("/notificacoes/preferencias")
async def save_preferences(ctx: Signed, request: Request, forward: ForwardDep) -> Response:
    form = await request.form()
    current = await notify_api.get_settings(ctx, forward)
    chosen = set(form.getlist("on"))
    wanted = [
        {
            "category": p["category"],
            "channel": p["channel"],
            "enabled": f"{p['category']}:{p['channel']}" in chosen,
        }
        for p in current.get("preferences", [])
        if not p.get("locked")
    ]
    body = _form(SettingsIn, {"preferences": wanted})
    await notify_api.change_settings(body, ctx, forward)
    return redirect("/app/notificacoes/preferencias?ok=prefs")


# --- the company: switcher, members, invitations, tokens --------------------------------------


@router.get("/empresa")
async def company(
    ctx: Signed, accounts: AccountsDep, companies: CompaniesDep, tokens: TokensDep
) -> Response:
    me = await me_api.me(ctx, accounts)
    permissions = ctx.me.permissions
    members = invitations = None
    if P.MEMBERS_READ in permissions:
        members = (await company_api.list_members(ctx, companies, limit=100, cursor=None)).items
        invitations = (
            await company_api.list_invitations(ctx, companies, limit=100, cursor=None)
        ).items
    return _show(
        ctx.request,
        ctx,
        "empresa.html",
        profile=me,
        members=members,
        invitations=invitations,
        roles=[r.value for r in CompanyRole],
        form={},
        errors={},
    )


@router.post("/empresa/trocar")
async def switch(ctx: Signed, request: Request, companies: CompaniesDep) -> Response:
    form = await form_of(request)
    body = _form(SwitchCompany, {"company_id": form.get("company_id")})
    await me_api.switch_company(body, ctx, companies)
    return redirect("/app/empresa?ok=switched")


@router.post("/empresa/convites")
async def invite(
    ctx: MembersManage,
    request: Request,
    accounts: AccountsDep,
    companies: CompaniesDep,
) -> Response:
    form = await form_of(request)
    en = english(request)
    body, errors = _parse(InvitationIn, form, en)
    if body is not None:
        try:
            await company_api.invite(body, ctx, companies)
        except (ApiError, Refused) as exc:
            errors = _refusal(exc, en)
        else:
            return redirect("/app/empresa?ok=invited")
    me = await me_api.me(ctx, accounts)
    return _show(
        request,
        ctx,
        "empresa.html",
        status=422,
        profile=me,
        members=(await company_api.list_members(ctx, companies, limit=100, cursor=None)).items,
        invitations=(
            await company_api.list_invitations(ctx, companies, limit=100, cursor=None)
        ).items,
        roles=[r.value for r in CompanyRole],
        form=form,
        errors=errors,
    )


@router.post("/empresa/convites/{invitation_id}/revogar")
async def revoke_invitation(
    invitation_id: UUID, ctx: MembersManage, companies: CompaniesDep
) -> Response:
    await company_api.revoke_invitation(invitation_id, ctx, companies)
    return redirect("/app/empresa?ok=revoked")


@router.post("/empresa/membros/{user_id}")
async def change_member(
    user_id: UUID, ctx: MembersManage, request: Request, companies: CompaniesDep
) -> Response:
    form = await form_of(request)
    if form.get("remove"):
        await company_api.remove_member(user_id, ctx, companies)
        return redirect("/app/empresa?ok=removed")
    body = _form(RoleChange, {"role": form.get("role")})
    await company_api.change_role(user_id, body, ctx, companies)
    return redirect("/app/empresa?ok=role")


@router.get("/tokens")
async def api_tokens(ctx: TokensRead, tokens: TokensDep) -> Response:
    return await _tokens(ctx, tokens)


async def _tokens(
    ctx: RequestContext,
    tokens: Any,
    *,
    created: Any = None,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    listed = (await company_api.list_tokens(ctx, tokens, limit=100, cursor=None)).items
    grantable = sorted(p.value for p in TOKEN_GRANTABLE & ctx.me.permissions)
    return _show(
        ctx.request,
        ctx,
        "tokens.html",
        status=status,
        tokens=listed,
        grantable=grantable,
        created=created,
        form=form or {},
        errors=errors or {},
    )


@router.post("/tokens")
async def create_token(ctx: TokensCreate, request: Request, tokens: TokensDep) -> Response:
    form = await request.form()
    en = english(request)
    data = {
        "name": str(form.get("name") or ""),
        "permissions": [p for p in form.getlist("permissions") if isinstance(p, str)],
        "expires_in_days": form.get("expires_in_days") or None,
    }
    body, errors = _parse(TokenIn, data, en)
    if body is not None:
        try:
            created = await company_api.create_token(body, ctx, tokens)
        except (ApiError, Refused) as exc:
            errors = _refusal(exc, en)
        else:
            return await _tokens(ctx, tokens, created=created)  # shown once, never again
    return await _tokens(ctx, tokens, form=data, errors=errors, status=422)


@router.post("/tokens/{token_id}/revogar")
async def revoke_token(token_id: UUID, ctx: TokensManage, tokens: TokensDep) -> Response:
    await company_api.revoke_token(token_id, ctx, tokens)
    return redirect("/app/tokens?ok=revoked")


# --- the person's security: password, 2FA (passkeys: the #passkeys section) --------------------


@router.get("/seguranca")
async def security(ctx: Signed, accounts: AccountsDep) -> Response:
    me = await me_api.me(ctx, accounts)
    return _show(ctx.request, ctx, "seguranca.html", profile=me, errors={}, setup=None)


@router.post("/seguranca/2fa")
async def start_2fa(ctx: Recent, accounts: AccountsDep, sign_in: SignInDep) -> Response:
    setup = await auth_api.totp_setup(ctx, sign_in)
    me = await me_api.me(ctx, accounts)
    return _show(
        ctx.request,
        ctx,
        "seguranca.html",
        profile=me,
        errors={},
        setup={"secret": setup.secret, "qr": qr_svg_data_uri(setup.otpauth_uri)},
    )


@router.post("/seguranca/2fa/ativar")
async def enable_2fa(
    ctx: Recent, request: Request, accounts: AccountsDep, sign_in: SignInDep
) -> Response:
    form = await form_of(request)
    en = english(request)
    body, errors = _parse(SecondFactor, form, en)
    if body is not None:
        try:
            codes = await auth_api.totp_enable(body, ctx, sign_in)
        except (ApiError, Refused) as exc:
            errors = {"code": describe(exc, en)}
        else:
            return _show(request, ctx, "codigos.html", codes=codes.recovery_codes)
    me = await me_api.me(ctx, accounts)
    secret = form.get("secret", "")
    setup = None
    if secret:
        setup = {"secret": secret, "qr": qr_svg_data_uri(totp_uri(secret, me.email))}
    return _show(request, ctx, "seguranca.html", status=422, profile=me, errors=errors, setup=setup)


@router.get("/confirmar")
async def confirm_identity_page(ctx: Signed, accounts: AccountsDep, next: str = "") -> Response:
    """Where a sensitive change sends a person whose sign-in is no longer recent."""
    me = await me_api.me(ctx, accounts)
    target = safe_next(next, "/app/seguranca")
    return _show(ctx.request, ctx, "identidade.html", profile=me, next=target, errors={})


@router.post("/confirmar")
async def confirm_identity(
    ctx: Signed, request: Request, accounts: AccountsDep, sign_in: SignInDep
) -> Response:
    form = await form_of(request)
    en = english(request)
    target = safe_next(form.get("next"), "/app/seguranca")
    proof = {"password": form.get("password") or None, "code": form.get("code") or None}
    body, errors = _parse(Reauthenticate, proof, en)
    if body is not None:
        try:
            await auth_api.reauthenticate(body, ctx, sign_in)
        except (ApiError, Refused) as exc:
            errors = {"form": describe(exc, en)}
        else:
            return redirect(target)
    me = await me_api.me(ctx, accounts)
    return _show(
        request, ctx, "identidade.html", status=422, profile=me, next=target, errors=errors
    )


@router.post("/seguranca/senha")
async def change_password(ctx: Signed, request: Request, accounts: AccountsDep) -> Response:
    form = await form_of(request)
    en = english(request)
    body, errors = _parse(PasswordChange, form, en)
    if body is not None:
        try:
            await auth_api.change_password(body, ctx, accounts)
        except (ApiError, Refused) as exc:
            errors = {"current_password": describe(exc, en)}
        else:
            return redirect("/app/seguranca?ok=password")
    me = await me_api.me(ctx, accounts)
    return _show(request, ctx, "seguranca.html", status=422, profile=me, errors=errors, setup=None)
