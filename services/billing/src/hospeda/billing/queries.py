"""What the gateway can read from billing (request/reply over Kafka).

The tenant is the query envelope's ``company_id``, never a parameter. A
customer always has one; a staff query without one reads platform-wide.
Another company's invoice (or subscription, order) answers "not found",
exactly like a missing one. Lists take ``limit`` and ``cursor`` and return
``{"items": [...], "next_cursor": str | None}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from hospeda.billing import repository as repo
from hospeda.billing.domain import (
    UNPAID,
    SubscriptionStatus,
    addon_charge,
    addon_family,
    check_addon_change,
    invoice_not_found,
    price_for,
    prorate,
    subscription_not_found,
)
from hospeda.billing.models import (
    Dispute,
    Invoice,
    InvoiceLine,
    Order,
    Payment,
    Product,
    Refund,
    Subscription,
)
from hospeda.billing.pix import qr_png_data_uri
from hospeda.billing.service import is_staff
from hospeda.billing.service.core import addon_cycle
from hospeda.billing.service.fulfilment import owed_for
from hospeda.contracts.billing import BillingCycle, ProductKind
from hospeda.runtime.clock import Clock
from hospeda.runtime.errors import NotFound, PermanentError
from hospeda.runtime.messaging import MessageRouter, QueryContext


def register_queries(router: MessageRouter, clock: Clock) -> None:
    @router.query("catalog.list")
    async def catalog_list(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        include_retired = bool(params.get("include_retired")) and is_staff(ctx.actor)
        limit = _limit(params)
        rows = await repo.products(
            ctx.session,
            kind=params.get("kind"),
            active_only=not include_retired,
            after=params.get("cursor"),
            limit=limit + 1,
        )
        return _page([product_json(p) for p in rows], limit, key="code")

    @router.query("invoices.list")
    async def invoices_list(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        limit = _limit(params)
        rows = await repo.invoices(
            ctx.session,
            company_id=_tenant(ctx),
            status=params.get("status"),
            before=_cursor(params),
            limit=limit + 1,
        )
        items = []
        for invoice in rows[: limit + 1]:
            # what each invoice is for (plan, add-ons, domain, period), for the list
            lines = await repo.lines(ctx.session, invoice.id)
            items.append({**invoice_json(invoice), "summary": _summary(lines)})
        return _page(items, limit)

    @router.query("invoices.get")
    async def invoices_get(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        invoice = await repo.get(ctx.session, Invoice, _uuid(params, "invoice_id"))
        if invoice is None or not _visible(invoice.company_id, ctx):
            raise invoice_not_found()
        lines = await repo.lines(ctx.session, invoice.id)
        payments = await repo.payments(ctx.session, company_id=None, invoice_id=invoice.id)
        refunds = await repo.refunds(ctx.session, invoice.id)
        disputes = await repo.disputes(ctx.session, invoice.id)
        return {
            **invoice_json(invoice),
            "lines": [line_json(line, invoice.currency) for line in lines],
            "payments": [payment_json(p, with_qr=invoice.status in UNPAID) for p in payments],
            "refunds": [refund_json(r) for r in refunds],
            "disputes": [dispute_json(d) for d in disputes],
        }

    @router.query("orders.get")
    async def orders_get(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        order = await repo.get(ctx.session, Order, _uuid(params, "order_id"))
        if order is None or not _visible(order.company_id, ctx):
            raise NotFound("Pedido não encontrado / Order not found")
        invoice = (
            await repo.get(ctx.session, Invoice, order.invoice_id) if order.invoice_id else None
        )
        return {
            "id": str(order.id),
            "company_id": str(order.company_id),
            "status": order.status,
            "plan_code": order.plan_code,
            "domain": order.domain,
            "cycle": order.cycle,
            "addons": order.addons,
            "total": _money(order.total, order.currency),
            "invoice": invoice_json(invoice) if invoice else None,
            "created_at": _time(order.created_at),
        }

    @router.query("subscriptions.list")
    async def subscriptions_list(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        limit = _limit(params)
        service = params.get("service_id")
        rows = await repo.subscriptions(
            ctx.session,
            company_id=_tenant(ctx),
            status=params.get("status"),
            service_id=_uuid(params, "service_id") if service else None,
            before=_cursor(params),
            limit=limit + 1,
        )
        return _page([subscription_json(s) for s in rows], limit)

    @router.query("subscriptions.get")
    async def subscriptions_get(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        sub = await repo.get(ctx.session, Subscription, _uuid(params, "subscription_id"))
        if sub is None or not _visible(sub.company_id, ctx):
            raise subscription_not_found()
        addons = await repo.subscriptions(
            ctx.session, company_id=sub.company_id, service_id=sub.service_id, limit=500
        )
        return {
            **subscription_json(sub),
            "addons": [subscription_json(a) for a in addons if a.parent_id == sub.id],
        }

    @router.query("subscriptions.quote")
    async def subscriptions_quote(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        """What a change would cost now, before the customer confirms it:
        ``action`` ``add`` (an add-on ``to_code`` for plan subscription
        ``subscription_id``), ``change`` (to ``to_code``, prorated by the same
        rule the change itself uses) or ``cancel`` (unused time is not refunded)."""
        sub = await repo.get(ctx.session, Subscription, _uuid(params, "subscription_id"))
        if sub is None or not _visible(sub.company_id, ctx):
            raise subscription_not_found()
        action = str(params.get("action") or "")
        now = clock.now()  # the business clock: the quote matches what will be billed
        base = {"action": action, "subscription": subscription_json(sub)}
        if action == "cancel":
            # unused time is not refunded; what was never delivered is (BILLING_UNDELIVERED_POLICY)
            undelivered = sub.status == SubscriptionStatus.PROVISIONING_FAILED
            owed = (
                sum((await owed_for(ctx.session, sub, lock=False)).values()) if undelivered else 0
            )
            return {
                **base,
                "charge_now": _money(0, sub.currency),
                "credit": _money(0, sub.currency),
                "given_back": _money(owed, sub.currency),
            }
        product = await repo.get(ctx.session, Product, str(params.get("to_code") or ""))
        if product is None or not product.active:
            raise NotFound("Produto não encontrado / product not found")
        if action == "add":
            cycle = addon_cycle(product, None, BillingCycle(sub.cycle))
            price = price_for(product.prices, cycle, code=product.code)
            first = addon_charge(
                price["amount"],
                same_cycle=cycle.value == sub.cycle,
                period_start=sub.period_start,
                period_end=sub.period_end,
                at=now,
            )
            total = first + int(price.get("setup_fee") or 0)
            return {
                **base,
                "product": product_json(product),
                "cycle": cycle.value,
                "price": _money(price["amount"], price["currency"]),
                "charge_now": _money(total, price["currency"]),
                "credit": _money(0, price["currency"]),
                "prorated_until": _time(sub.period_end) if first != price["amount"] else None,
            }
        if action != "change":
            raise PermanentError("action: add, change ou/or cancel")
        if sub.period_start is None or sub.period_end is None:
            raise PermanentError("Itens avulsos não mudam / one-time items cannot change")
        if sub.kind == ProductKind.ADDON:
            current = await repo.get(ctx.session, Product, sub.product_code)
            check_addon_change(current or product, product)  # a PermanentError: the answer
        price = price_for(product.prices, BillingCycle(sub.cycle), code=product.code)
        proration = prorate(
            old_price=sub.price,
            new_price=price["amount"],
            period_start=sub.period_start,
            period_end=sub.period_end,
            at=now,
        )
        return {
            **base,
            "product": product_json(product),
            "cycle": sub.cycle,
            "price": _money(price["amount"], sub.currency),
            "period_days": proration.period_days,
            "days_left": proration.period_days - proration.used_days,
            "unused_credit": _money(proration.unused_credit, sub.currency),
            "remaining_charge": _money(proration.remaining_charge, sub.currency),
            "charge_now": _money(max(proration.net, 0), sub.currency),
            "credit": _money(max(-proration.net, 0), sub.currency),
        }

    @router.query("payments.list")
    async def payments_list(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        limit = _limit(params)
        rows = await repo.payments(
            ctx.session,
            company_id=_tenant(ctx),
            invoice_id=_uuid(params, "invoice_id") if params.get("invoice_id") else None,
            before=_cursor(params),
            limit=limit + 1,
        )
        return _page([payment_json(p, with_qr=False) for p in rows], limit)

    @router.query("credit.get")
    async def credit_get(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        company_id = ctx.company_id
        if company_id is None:
            raise PermanentError("Informe a empresa / a company is required")
        balances = await repo.balances(ctx.session, company_id)
        entries = await repo.credit_entries(ctx.session, company_id, _limit(params))
        return {
            "balances": [_money(b.amount, b.currency) for b in balances if b.amount],
            "entries": [
                {
                    "id": str(e.id),
                    "amount": _money(e.amount, e.currency),
                    "balance_after": _money(e.balance_after, e.currency),
                    "reason": e.reason,
                    "invoice_id": _str(e.invoice_id),
                    "payment_id": _str(e.payment_id),
                    "created_at": _time(e.created_at),
                }
                for e in entries
            ],
        }


# --- JSON views -----------------------------------------------------------------------------------


def product_json(product: Product) -> dict[str, Any]:
    return {
        "code": product.code,
        "kind": product.kind,
        "name": product.name,
        "description": product.description,
        "recurring": product.recurring,
        "whm_package": product.whm_package,
        "family": addon_family(product) if product.kind == "addon" else None,
        "active": product.active,
        "version": product.version,
        "prices": [
            {
                "cycle": p["cycle"],
                "amount": _money(p["amount"], p["currency"]),
                "setup_fee": _money(p.get("setup_fee") or 0, p["currency"]),
            }
            for p in product.prices
        ],
    }


def invoice_json(invoice: Invoice) -> dict[str, Any]:
    currency = invoice.currency
    return {
        "id": str(invoice.id),
        "company_id": str(invoice.company_id),
        "number": invoice.number,
        "kind": invoice.kind,
        "status": invoice.status,
        "subtotal": _money(invoice.subtotal, currency),
        "credit_applied": _money(invoice.credit_applied, currency),
        "total": _money(invoice.total, currency),
        "amount_paid": _money(invoice.amount_paid, currency),
        "amount_refunded": _money(invoice.amount_refunded, currency),
        "amount_due": _money(
            invoice.total - invoice.amount_paid if invoice.status in UNPAID else 0, currency
        ),
        "due_at": _time(invoice.due_at),
        "issued_at": _time(invoice.issued_at),
        "paid_at": _time(invoice.paid_at),
        "voided_at": _time(invoice.voided_at),
        "void_reason": invoice.void_reason,
        "order_id": _str(invoice.order_id),
    }


def _summary(lines: Sequence[InvoiceLine]) -> str:
    described = [line.description for line in lines if line.amount >= 0][:4]
    return "; ".join(described)


def line_json(line: InvoiceLine, currency: str) -> dict[str, Any]:
    return {
        "description": line.description,
        "quantity": line.quantity,
        "unit_amount": _money(line.unit_amount, currency),
        "amount": _money(line.amount, currency),
        "product_code": line.product_code,
        "subscription_id": _str(line.subscription_id),
        "period_start": _time(line.period_start),
        "period_end": _time(line.period_end),
    }


def payment_json(payment: Payment, *, with_qr: bool) -> dict[str, Any]:
    action = dict(payment.next_action or {})
    if payment.status != "requires_action":
        action = {}
    elif with_qr and action.get("type") == "pix_br_code" and action.get("copy_paste"):
        action["qr_png"] = qr_png_data_uri(action["copy_paste"])
    return {
        "id": str(payment.id),
        "invoice_id": str(payment.invoice_id),
        "method": payment.method,
        "provider": payment.provider,
        "provider_reference": payment.provider_reference,
        "status": payment.status,
        "amount": _money(payment.amount, payment.currency),
        "amount_refunded": _money(payment.amount_refunded, payment.currency),
        "failure_code": payment.failure_code,
        "failure_reason": payment.failure_reason,
        "next_action": action or None,
        "expires_at": _time(payment.expires_at),
        "created_at": _time(payment.created_at),
        "succeeded_at": _time(payment.succeeded_at),
    }


def refund_json(refund: Refund) -> dict[str, Any]:
    return {
        "id": str(refund.id),
        "payment_id": str(refund.payment_id),
        "amount": _money(refund.amount, refund.currency),
        "status": refund.status,
        "reason": refund.reason,
        "created_at": _time(refund.created_at),
        "settled_at": _time(refund.settled_at),
    }


def dispute_json(dispute: Dispute) -> dict[str, Any]:
    return {
        "id": str(dispute.id),
        "payment_id": str(dispute.payment_id),
        "amount": _money(dispute.amount, dispute.currency),
        "reason": dispute.reason,
        "status": dispute.status,
        "evidence_due_at": _time(dispute.evidence_due_at),
        "opened_at": _time(dispute.opened_at),
        "closed_at": _time(dispute.closed_at),
    }


def subscription_json(sub: Subscription) -> dict[str, Any]:
    return {
        "id": str(sub.id),
        "company_id": str(sub.company_id),
        "kind": sub.kind,
        "product_code": sub.product_code,
        "cycle": sub.cycle,
        "price": _money(sub.price, sub.currency),
        "status": sub.status,
        "service_id": str(sub.service_id),
        "parent_id": _str(sub.parent_id),
        "domain": sub.domain,
        "period_start": _time(sub.period_start),
        "period_end": _time(sub.period_end),
        "cancel_at_period_end": sub.cancel_at_period_end,
        "renewal_invoice_id": _str(sub.renewal_invoice_id),
        "ended_at": _time(sub.ended_at),
    }


# --- parameters ---------------------------------------------------------------------------------


def _tenant(ctx: QueryContext) -> UUID | None:
    if ctx.company_id is None and not is_staff(ctx.actor):
        raise PermanentError("Informe a empresa / a company is required")
    return ctx.company_id


def _visible(company_id: UUID, ctx: QueryContext) -> bool:
    if ctx.company_id is None:
        return is_staff(ctx.actor)
    return company_id == ctx.company_id


def _limit(params: dict[str, Any]) -> int:
    try:
        return max(1, min(int(params.get("limit", 50)), 200))
    except (TypeError, ValueError):
        raise PermanentError("limit deve ser um número / limit must be a number") from None


def _uuid(params: dict[str, Any], name: str) -> UUID:
    try:
        return UUID(str(params.get(name)))
    except ValueError:
        raise PermanentError(f"{name} deve ser um UUID / {name} must be a UUID") from None


def _cursor(params: dict[str, Any]) -> UUID | None:
    return _uuid(params, "cursor") if params.get("cursor") else None


def _page(items: Sequence[dict[str, Any]], limit: int, *, key: str = "id") -> dict[str, Any]:
    page = list(items[:limit])
    more = len(items) > limit
    return {"items": page, "next_cursor": page[-1][key] if more and page else None}


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _str(value: UUID | None) -> str | None:
    return str(value) if value else None
