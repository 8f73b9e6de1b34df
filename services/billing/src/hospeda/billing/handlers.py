"""What the billing service consumes: message in → one service call."""

from __future__ import annotations

from typing import Any

from hospeda.billing.queries import register_queries
from hospeda.billing.service import Billing, Unit
from hospeda.contracts import Envelope
from hospeda.contracts import billing as msg
from hospeda.contracts.provisioning import AddonEnabled, ServiceActivated, ServiceProvisioningFailed
from hospeda.contracts.topics import BILLING_COMMANDS, PROVISIONING_COMMANDS, PROVISIONING_SERVICE
from hospeda.runtime.jobs import JobEngine
from hospeda.runtime.jobs_api import expose_jobs
from hospeda.runtime.messaging import MessageContext, MessageRouter
from hospeda.runtime.probe import forward_probes


def build_router(
    billing: Billing, engine: JobEngine, router: MessageRouter | None = None
) -> MessageRouter:
    """Billing's commands and queries on ``router`` (a new one by default)."""
    router = router or MessageRouter("billing")
    forward_probes(router, listen=BILLING_COMMANDS, forward_to=PROVISIONING_COMMANDS)
    expose_jobs(router, engine, commands=BILLING_COMMANDS)
    register_queries(router, billing.clock)

    def unit(ctx: MessageContext) -> Unit:
        return Unit.of_message(ctx, billing.clock.now())

    @router.on(BILLING_COMMANDS, msg.PublishCatalogItem)
    async def publish(message: Envelope[Any], ctx: MessageContext) -> None:
        await billing.publish_product(unit(ctx), actor=message.actor, item=message.payload)

    @router.on(BILLING_COMMANDS, msg.RetireCatalogItem)
    async def retire(message: Envelope[Any], ctx: MessageContext) -> None:
        await billing.retire_product(unit(ctx), actor=message.actor, code=message.payload.code)

    @router.on(BILLING_COMMANDS, msg.PlaceOrder)
    async def place_order(message: Envelope[Any], ctx: MessageContext) -> None:
        await billing.place_order(unit(ctx), company_id=message.company_id, order=message.payload)

    @router.on(BILLING_COMMANDS, msg.PayInvoice)
    async def pay_invoice(message: Envelope[Any], ctx: MessageContext) -> None:
        pay: msg.PayInvoice = message.payload
        await billing.pay_invoice(
            unit(ctx),
            company_id=message.company_id,
            actor=message.actor,
            invoice_id=pay.invoice_id,
            method=pay.method,
            payment_method_ref=pay.payment_method_ref,
        )

    @router.on(BILLING_COMMANDS, msg.ConfirmPayment)
    async def confirm_payment(message: Envelope[Any], ctx: MessageContext) -> None:
        await billing.confirm_payment(
            unit(ctx),
            company_id=message.company_id,
            actor=message.actor,
            confirmation=message.payload,
        )

    @router.on(BILLING_COMMANDS, msg.RecordPixPayment)
    async def record_pix(message: Envelope[Any], ctx: MessageContext) -> None:
        await billing.record_pix_payment(
            unit(ctx), actor=message.actor, company_id=message.company_id, payment=message.payload
        )

    @router.on(BILLING_COMMANDS, msg.VoidInvoice)
    async def void_invoice(message: Envelope[Any], ctx: MessageContext) -> None:
        await billing.void_invoice(
            unit(ctx),
            company_id=message.company_id,
            actor=message.actor,
            invoice_id=message.payload.invoice_id,
            reason=message.payload.reason,
        )

    @router.on(BILLING_COMMANDS, msg.RefundInvoice)
    async def refund_invoice(message: Envelope[Any], ctx: MessageContext) -> None:
        refund: msg.RefundInvoice = message.payload
        await billing.refund_invoice(
            unit(ctx),
            company_id=message.company_id,
            actor=message.actor,
            invoice_id=refund.invoice_id,
            amount=refund.amount,
            reason=refund.reason,
        )

    @router.on(BILLING_COMMANDS, msg.PurchaseAddon)
    async def purchase_addon(message: Envelope[Any], ctx: MessageContext) -> None:
        await billing.purchase_addon(
            unit(ctx), company_id=message.company_id, actor=message.actor, purchase=message.payload
        )

    @router.on(BILLING_COMMANDS, msg.ChangeSubscription)
    async def change_subscription(message: Envelope[Any], ctx: MessageContext) -> None:
        await billing.change_subscription(
            unit(ctx), company_id=message.company_id, actor=message.actor, change=message.payload
        )

    @router.on(BILLING_COMMANDS, msg.CancelSubscription)
    async def cancel_subscription(message: Envelope[Any], ctx: MessageContext) -> None:
        await billing.cancel_subscription(
            unit(ctx), company_id=message.company_id, actor=message.actor, cancel=message.payload
        )

    # what provisioning reports: a paid service it gave up on, or delivered after all
    @router.on(PROVISIONING_SERVICE, ServiceProvisioningFailed)
    async def provisioning_failed(message: Envelope[Any], ctx: MessageContext) -> None:
        await billing.provisioning_failed(unit(ctx), message.payload)

    @router.on(PROVISIONING_SERVICE, ServiceActivated)
    async def service_activated(message: Envelope[Any], ctx: MessageContext) -> None:
        await billing.provisioning_delivered(unit(ctx), message.payload.service_id)

    @router.on(PROVISIONING_SERVICE, AddonEnabled)
    async def addon_enabled(message: Envelope[Any], ctx: MessageContext) -> None:
        enabled: AddonEnabled = message.payload
        await billing.provisioning_delivered(
            unit(ctx), enabled.service_id, addon_code=enabled.addon_code
        )

    return router
