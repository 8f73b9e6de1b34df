"""Catalog, orders, invoices and subscriptions — owned by the billing service.

Reads are queries to billing; changes are billing commands (202 + operation
id). A command on an existing invoice or subscription is sent only after
billing confirmed it belongs to the active company, so another company's id
changes nothing and answers 404 like a missing one.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, EmailStr, Field, field_validator

from hospeda.contracts import Money, new_id
from hospeda.contracts.billing import (
    BillingCycle,
    CancelSubscription,
    ChangeSubscription,
    ConfirmPayment,
    OrderAddon,
    PayInvoice,
    PaymentMethod,
    PlaceOrder,
    PurchaseAddon,
    RefundInvoice,
    VoidInvoice,
)
from hospeda.contracts.topics import BILLING_COMMANDS
from hospeda.gateway import forward
from hospeda.gateway.api import DEFAULT_LIMIT, MAX_LIMIT, ApiRoute, Page, RequestContext, allow
from hospeda.gateway.forward import Accepted
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import documented
from hospeda.gateway.schemas import example

router = APIRouter(tags=["billing"], route_class=ApiRoute)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500)]
Status = Annotated[str | None, Query(max_length=30, pattern=r"^[a-z_]+$")]
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
READ = documented(401, 403, 422, 503)
ONE = documented(401, 403, 404, 422, 503)
COMMAND = documented(401, 403, 404, 409, 422, 503)
SERVICE = "billing"


@router.get("/catalog", responses=READ, summary="Planos e adicionais / Plans and add-ons")
async def catalog(
    ctx: Annotated[RequestContext, allow(P.CATALOG_READ)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page:
    return Page(**await forward.page(ctx, SERVICE, "catalog.list", limit=limit, cursor=cursor))


class OrderIn(BaseModel):
    model_config = example(
        plan_code="hospedagem-pro",
        domain="paoquente.com.br",
        cycle="monthly",
        addons=[{"code": "backup-pro"}],
    )

    plan_code: Code
    domain: str = Field(
        min_length=3,
        max_length=253,
        pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        description="Lower-case, IDNA (xn--) form for accented names.",
    )
    cycle: BillingCycle
    addons: list[OrderAddon] = Field(default_factory=list, max_length=20)
    contact_email: EmailStr | None = None


@router.post(
    "/orders",
    status_code=status.HTTP_202_ACCEPTED,
    responses=COMMAND,
    summary="Fazer um pedido / Place an order",
)
async def place_order(
    body: OrderIn, ctx: Annotated[RequestContext, allow(P.ORDERS_CREATE)], response: Response
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
    order_id: UUID, ctx: Annotated[RequestContext, allow(P.ORDERS_READ)]
) -> dict[str, Any]:
    return await forward.get(ctx, SERVICE, "orders.get", order_id=order_id)


@router.get("/invoices", responses=READ, summary="Faturas / Invoices")
async def list_invoices(
    ctx: Annotated[RequestContext, allow(P.INVOICES_READ)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    status: Status = None,
) -> Page:
    return Page(
        **await forward.page(
            ctx, SERVICE, "invoices.list", limit=limit, cursor=cursor, status=status
        )
    )


@router.get("/invoices/{invoice_id}", responses=ONE, summary="Uma fatura / An invoice")
async def get_invoice(
    invoice_id: UUID, ctx: Annotated[RequestContext, allow(P.INVOICES_READ)]
) -> dict[str, Any]:
    return await forward.get(ctx, SERVICE, "invoices.get", invoice_id=invoice_id)


class PayIn(BaseModel):
    model_config = example(method="pix")

    method: PaymentMethod
    payment_method_ref: str | None = Field(default=None, max_length=255)


@router.post(
    "/invoices/{invoice_id}/pay",
    status_code=status.HTTP_202_ACCEPTED,
    responses=COMMAND,
    summary="Pagar uma fatura / Pay an invoice",
)
async def pay_invoice(
    invoice_id: UUID, body: PayIn, ctx: Annotated[RequestContext, allow(P.INVOICES_PAY)]
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


class ConfirmIn(BaseModel):
    model_config = example(payment_intent_id="pi_3PqX2nLkdIwHu7ix0cDg1Z2a")

    payment_intent_id: str = Field(min_length=4, max_length=255, pattern=r"^pi_[A-Za-z0-9_]+$")


@router.post(
    "/invoices/{invoice_id}/confirm-payment",
    status_code=status.HTTP_202_ACCEPTED,
    responses=COMMAND,
    summary="Voltei do pagamento / Back from paying (3-D Secure, bank page, Pix)",
)
async def confirm_payment(
    invoice_id: UUID, body: ConfirmIn, ctx: Annotated[RequestContext, allow(P.INVOICES_PAY)]
) -> Accepted:
    """The customer's browser came back from Stripe: billing checks the
    PaymentIntent itself and applies it once, however often this is sent."""
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


class RefundIn(BaseModel):
    model_config = example(amount={"amount": 1990, "currency": "BRL"}, reason="Cobrança em dobro")

    amount: Money | None = Field(default=None, description="Absent: refund in full.")
    reason: str = Field(min_length=1, max_length=500)

    @field_validator("amount")
    @classmethod
    def _positive(cls, amount: Money | None) -> Money | None:
        if amount is not None and amount.amount <= 0:
            raise ValueError(
                "o valor deve ser positivo, em centavos / the amount must be positive, in cents"
            )
        return amount


@router.post(
    "/invoices/{invoice_id}/refund",
    status_code=status.HTTP_202_ACCEPTED,
    responses=COMMAND,
    summary="Estornar uma fatura (equipe) / Refund an invoice (staff)",
)
async def refund_invoice(
    invoice_id: UUID, body: RefundIn, ctx: Annotated[RequestContext, allow(P.INVOICES_ADJUST)]
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


class VoidIn(BaseModel):
    model_config = example(reason="Pedido cancelado antes do pagamento")

    reason: str = Field(min_length=1, max_length=500)


@router.post(
    "/invoices/{invoice_id}/void",
    status_code=status.HTTP_202_ACCEPTED,
    responses=COMMAND,
    summary="Anular uma fatura (equipe) / Void an invoice (staff)",
)
async def void_invoice(
    invoice_id: UUID, body: VoidIn, ctx: Annotated[RequestContext, allow(P.INVOICES_ADJUST)]
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


@router.get("/subscriptions", responses=READ, summary="Assinaturas / Subscriptions")
async def list_subscriptions(
    ctx: Annotated[RequestContext, allow(P.SUBSCRIPTIONS_READ)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    status: Status = None,
) -> Page:
    return Page(
        **await forward.page(
            ctx, SERVICE, "subscriptions.list", limit=limit, cursor=cursor, status=status
        )
    )


@router.get(
    "/subscriptions/{subscription_id}", responses=ONE, summary="Uma assinatura / A subscription"
)
async def get_subscription(
    subscription_id: UUID, ctx: Annotated[RequestContext, allow(P.SUBSCRIPTIONS_READ)]
) -> dict[str, Any]:
    return await forward.get(ctx, SERVICE, "subscriptions.get", subscription_id=subscription_id)


class ChangeIn(BaseModel):
    model_config = example(to_code="hospedagem-business", cycle="annual")

    to_code: Code
    cycle: BillingCycle | None = None


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


class CancelIn(BaseModel):
    model_config = example(at_period_end=True, reason="Vou migrar o site")

    at_period_end: bool = True
    reason: str | None = Field(default=None, max_length=500)


@router.post(
    "/subscriptions/{subscription_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    responses=COMMAND,
    summary="Cancelar / Cancel",
)
async def cancel_subscription(
    subscription_id: UUID,
    body: CancelIn,
    ctx: Annotated[RequestContext, allow(P.SUBSCRIPTIONS_MANAGE)],
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


class AddonIn(BaseModel):
    model_config = example(addon_code="backup-pro", cycle="monthly")

    addon_code: Code
    cycle: BillingCycle | None = None


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
