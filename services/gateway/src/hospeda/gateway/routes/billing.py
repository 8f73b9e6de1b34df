"""Catalog, orders, invoices and subscriptions — owned by the billing service.

Reads are queries to billing; changes are billing commands (202 + operation
id). A command on an existing invoice or subscription is sent only after
billing confirmed it belongs to the active company, so another company's id
changes nothing and answers 404 like a missing one.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from hospeda.contracts import new_id
from hospeda.contracts.billing import (
    CancelSubscription,
    ChangeSubscription,
    ConfirmPayment,
    PayInvoice,
    PlaceOrder,
    PurchaseAddon,
    RecordPixPayment,
    RefundInvoice,
    VoidInvoice,
)
from hospeda.contracts.topics import BILLING_COMMANDS
from hospeda.gateway.api import DEFAULT_LIMIT, MAX_LIMIT, ApiRoute, allow
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import ForwardDep, LimiterDep
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import documented
from hospeda.gateway.schemas.billing import (
    AddonIn,
    Catalog,
    ChangeIn,
    ConfirmIn,
    Invoice,
    Invoices,
    Order,
    OrderIn,
    PayIn,
    PixReceivedIn,
    RefundIn,
    Subscription,
    SubscriptionCancelIn,
    Subscriptions,
    VoidIn,
)
from hospeda.gateway.schemas.common import Accepted

router = APIRouter(tags=["billing"], route_class=ApiRoute)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500)]
Status = Annotated[str | None, Query(max_length=30, pattern=r"^[a-z_]+$")]
READ = documented(401, 403, 422, 503)
ONE = documented(401, 403, 404, 422, 503)
COMMAND = documented(401, 403, 404, 409, 422, 503)
SERVICE = "billing"


@router.get("/catalog", responses=READ, summary="Planos e adicionais / Plans and add-ons")
async def catalog(
    ctx: Annotated[RequestContext, allow(P.CATALOG_READ)],
    forward: ForwardDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Catalog:
    return await forward.page(ctx, SERVICE, "catalog.list", limit=limit, cursor=cursor)


@router.post(
    "/orders",
    status_code=status.HTTP_202_ACCEPTED,
    responses=COMMAND,
    summary="Fazer um pedido / Place an order",
)
async def place_order(
    body: OrderIn,
    ctx: Annotated[RequestContext, allow(P.ORDERS_CREATE)],
    forward: ForwardDep,
    response: Response,
) -> Accepted:
    """Billing prices it and issues the invoice; follow it on ``/events``."""
    order_id = new_id()
    accepted = await forward.command(
        ctx,
        PlaceOrder(
            order_id=order_id,
            plan_code=body.plan_code,
            domain=body.domain,
            cycle=body.cycle,
            addons=tuple(body.addons),
            contact_email=str(
                body.contact_email or ctx.me.email
            ),  # the orderer, unless told otherwise
        ),
        topic=BILLING_COMMANDS,
        key=ctx.company_id,
        action="order.place",
        entity="order",
        entity_id=order_id,
    )
    response.headers["Location"] = f"/api/v1/orders/{order_id}"
    return accepted


@router.get("/orders/{order_id}", responses=ONE, summary="Um pedido / An order")
async def get_order(
    order_id: UUID, ctx: Annotated[RequestContext, allow(P.ORDERS_READ)], forward: ForwardDep
) -> Order:
    return await forward.get(ctx, SERVICE, "orders.get", order_id=order_id)


@router.get("/invoices", responses=READ, summary="Faturas / Invoices")
async def list_invoices(
    ctx: Annotated[RequestContext, allow(P.INVOICES_READ)],
    forward: ForwardDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    status: Status = None,
) -> Invoices:
    return await forward.page(
        ctx, SERVICE, "invoices.list", limit=limit, cursor=cursor, status=status
    )


@router.get("/invoices/{invoice_id}", responses=ONE, summary="Uma fatura / An invoice")
async def get_invoice(
    invoice_id: UUID, ctx: Annotated[RequestContext, allow(P.INVOICES_READ)], forward: ForwardDep
) -> Invoice:
    return await forward.get(ctx, SERVICE, "invoices.get", invoice_id=invoice_id)


@router.post(
    "/invoices/{invoice_id}/pay",
    status_code=status.HTTP_202_ACCEPTED,
    responses=COMMAND,
    summary="Pagar uma fatura / Pay an invoice",
)
async def pay_invoice(
    invoice_id: UUID,
    body: PayIn,
    ctx: Annotated[RequestContext, allow(P.INVOICES_PAY)],
    forward: ForwardDep,
) -> Accepted:
    invoice = await forward.get(ctx, SERVICE, "invoices.get", invoice_id=invoice_id)
    return await forward.command(
        ctx,
        PayInvoice(
            invoice_id=invoice_id, method=body.method, payment_method_ref=body.payment_method_ref
        ),
        topic=BILLING_COMMANDS,
        key=ctx.company_id,
        action="invoice.pay",
        entity="invoice",
        entity_id=invoice_id,
        before={"status": invoice.get("status")},
    )


CONFIRMS_PER_MINUTE = 5


@router.post(
    "/invoices/{invoice_id}/confirm-payment",
    status_code=status.HTTP_202_ACCEPTED,
    responses=documented(401, 403, 404, 409, 422, 429, 503),
    summary="Voltei do pagamento / Back from paying (3-D Secure, bank page, Pix)",
)
async def confirm_payment(
    invoice_id: UUID,
    body: ConfirmIn,
    ctx: Annotated[RequestContext, allow(P.INVOICES_PAY)],
    forward: ForwardDep,
    limiter: LimiterDep,
) -> Accepted:
    """The customer's browser came back from Stripe: billing checks the
    PaymentIntent itself and applies it once, however often this is sent.
    Each call asks the payment provider, so a few per invoice per minute (429)."""
    await limiter.spend("confirm-payment", str(invoice_id), CONFIRMS_PER_MINUTE, window=60)
    invoice = await forward.get(ctx, SERVICE, "invoices.get", invoice_id=invoice_id)
    return await forward.command(
        ctx,
        ConfirmPayment(invoice_id=invoice_id, payment_intent_id=body.payment_intent_id),
        topic=BILLING_COMMANDS,
        key=ctx.company_id,
        action="invoice.confirm_payment",
        entity="invoice",
        entity_id=invoice_id,
        before={"status": invoice.get("status")},
    )


@router.post(
    "/invoices/{invoice_id}/refund",
    status_code=status.HTTP_202_ACCEPTED,
    responses=COMMAND,
    summary="Estornar uma fatura (equipe) / Refund an invoice (staff)",
)
async def refund_invoice(
    invoice_id: UUID,
    body: RefundIn,
    ctx: Annotated[RequestContext, allow(P.INVOICES_ADJUST)],
    forward: ForwardDep,
) -> Accepted:
    invoice = await forward.get(ctx, SERVICE, "invoices.get", invoice_id=invoice_id)
    return await forward.command(
        ctx,
        RefundInvoice(invoice_id=invoice_id, amount=body.amount, reason=body.reason),
        topic=BILLING_COMMANDS,
        key=ctx.company_id,
        action="invoice.refund",
        entity="invoice",
        entity_id=invoice_id,
        before={"status": invoice.get("status")},
    )


@router.post(
    "/invoices/{invoice_id}/void",
    status_code=status.HTTP_202_ACCEPTED,
    responses=COMMAND,
    summary="Anular uma fatura (equipe) / Void an invoice (staff)",
)
async def void_invoice(
    invoice_id: UUID,
    body: VoidIn,
    ctx: Annotated[RequestContext, allow(P.INVOICES_ADJUST)],
    forward: ForwardDep,
) -> Accepted:
    invoice = await forward.get(ctx, SERVICE, "invoices.get", invoice_id=invoice_id)
    return await forward.command(
        ctx,
        VoidInvoice(invoice_id=invoice_id, reason=body.reason),
        topic=BILLING_COMMANDS,
        key=ctx.company_id,
        action="invoice.void",
        entity="invoice",
        entity_id=invoice_id,
        before={"status": invoice.get("status")},
    )


@router.post(
    "/invoices/{invoice_id}/pix-received",
    status_code=status.HTTP_202_ACCEPTED,
    responses=COMMAND,
    summary="Pix direto recebido (equipe) / Direct Pix received (staff)",
)
async def record_pix_received(
    invoice_id: UUID,
    body: PixReceivedIn,
    ctx: Annotated[RequestContext, allow(P.INVOICES_ADJUST)],
    forward: ForwardDep,
) -> Accepted:
    """A direct Pix transfer for the invoice's BR Code reached the bank account and
    staff found it on the statement: billing applies it once per txid (a PSP's Pix
    is settled by its webhook and reconciliation, never by hand). The reason is
    kept in the audit trail."""
    invoice = await forward.get(ctx, SERVICE, "invoices.get", invoice_id=invoice_id)
    command = RecordPixPayment(
        invoice_id=invoice_id,
        txid=body.txid,
        amount=body.amount,
        end_to_end_id=body.end_to_end_id,
    )
    return await forward.command(
        ctx,
        command,
        topic=BILLING_COMMANDS,
        key=ctx.company_id,
        action="invoice.pix_received",
        entity="invoice",
        entity_id=invoice_id,
        before={"status": invoice.get("status")},
        after={**command.model_dump(mode="json"), "reason": body.reason},
    )


@router.get("/subscriptions", responses=READ, summary="Assinaturas / Subscriptions")
async def list_subscriptions(
    ctx: Annotated[RequestContext, allow(P.SUBSCRIPTIONS_READ)],
    forward: ForwardDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    status: Status = None,
) -> Subscriptions:
    return await forward.page(
        ctx, SERVICE, "subscriptions.list", limit=limit, cursor=cursor, status=status
    )


@router.get(
    "/subscriptions/{subscription_id}", responses=ONE, summary="Uma assinatura / A subscription"
)
async def get_subscription(
    subscription_id: UUID,
    ctx: Annotated[RequestContext, allow(P.SUBSCRIPTIONS_READ)],
    forward: ForwardDep,
) -> Subscription:
    return await forward.get(ctx, SERVICE, "subscriptions.get", subscription_id=subscription_id)


@router.post(
    "/subscriptions/{subscription_id}/change",
    status_code=status.HTTP_202_ACCEPTED,
    responses=COMMAND,
    summary="Mudar de plano ou adicional / Upgrade or downgrade",
)
async def change_subscription(
    subscription_id: UUID,
    body: ChangeIn,
    ctx: Annotated[RequestContext, allow(P.SUBSCRIPTIONS_MANAGE)],
    forward: ForwardDep,
) -> Accepted:
    current = await forward.get(ctx, SERVICE, "subscriptions.get", subscription_id=subscription_id)
    return await forward.command(
        ctx,
        ChangeSubscription(subscription_id=subscription_id, to_code=body.to_code, cycle=body.cycle),
        topic=BILLING_COMMANDS,
        key=ctx.company_id,
        action="subscription.change",
        entity="subscription",
        entity_id=subscription_id,
        before={"product_code": current.get("product_code"), "cycle": current.get("cycle")},
    )


@router.post(
    "/subscriptions/{subscription_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    responses=COMMAND,
    summary="Cancelar / Cancel",
)
async def cancel_subscription(
    subscription_id: UUID,
    body: SubscriptionCancelIn,
    ctx: Annotated[RequestContext, allow(P.SUBSCRIPTIONS_MANAGE)],
    forward: ForwardDep,
) -> Accepted:
    current = await forward.get(ctx, SERVICE, "subscriptions.get", subscription_id=subscription_id)
    return await forward.command(
        ctx,
        CancelSubscription(
            subscription_id=subscription_id, at_period_end=body.at_period_end, reason=body.reason
        ),
        topic=BILLING_COMMANDS,
        key=ctx.company_id,
        action="subscription.cancel",
        entity="subscription",
        entity_id=subscription_id,
        before={"status": current.get("status")},
    )


@router.post(
    "/subscriptions/{subscription_id}/addons",
    status_code=status.HTTP_202_ACCEPTED,
    responses=COMMAND,
    summary="Comprar um adicional / Buy an add-on",
)
async def purchase_addon(
    subscription_id: UUID,
    body: AddonIn,
    ctx: Annotated[RequestContext, allow(P.SUBSCRIPTIONS_MANAGE)],
    forward: ForwardDep,
) -> Accepted:
    """For the service of plan subscription ``subscription_id``."""
    await forward.get(ctx, SERVICE, "subscriptions.get", subscription_id=subscription_id)
    return await forward.command(
        ctx,
        PurchaseAddon(
            service_subscription_id=subscription_id, addon_code=body.addon_code, cycle=body.cycle
        ),
        topic=BILLING_COMMANDS,
        key=ctx.company_id,
        action="addon.purchase",
        entity="subscription",
        entity_id=subscription_id,
    )
