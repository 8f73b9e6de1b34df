"""What every part of billing's use cases shares: the unit of work, the
invoice lifecycle (issue, void, paid) and small helpers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.billing import repository as repo
from hospeda.billing.adapters.pix_psp import PixProvider
from hospeda.billing.adapters.stripe import PaymentGateway
from hospeda.billing.config import BillingSettings
from hospeda.billing.domain import (
    LIVE,
    UNPAID,
    InvalidInput,
    InvalidState,
    InvoiceKind,
    InvoiceStatus,
    SubscriptionStatus,
    UnknownProduct,
    invoice_not_found,
    invoice_number,
    totals,
    transition,
)
from hospeda.billing.models import (
    Invoice,
    InvoiceLine,
    Order,
    Payment,
    Product,
    Subscription,
)
from hospeda.contracts import Actor, ActorKind, Envelope, Money, Payload, Topic, new_id
from hospeda.contracts import billing as msg
from hospeda.contracts.billing import BillingCycle, ProductKind
from hospeda.contracts.notify import Channel, Recipient, SendNotification
from hospeda.contracts.topics import (
    BILLING_INVOICE,
    NOTIFY_COMMANDS,
    PROVISIONING_COMMANDS,
)
from hospeda.runtime import outbox
from hospeda.runtime.clock import Clock
from hospeda.runtime.db import Database
from hospeda.runtime.errors import Forbidden
from hospeda.runtime.jobs import JobEngine
from hospeda.runtime.messaging import MessageContext

log = logging.getLogger(__name__)

SERVICE = "billing"
SYSTEM = Actor.system(SERVICE)
BILLING_PEOPLE = Recipient(company_roles=("owner", "billing"))
"""Who hears about invoices and payments: the company's owners and billing members."""

CYCLE_PT = {
    BillingCycle.MONTHLY: "mensal",
    BillingCycle.QUARTERLY: "trimestral",
    BillingCycle.SEMIANNUAL: "semestral",
    BillingCycle.ANNUAL: "anual",
    BillingCycle.ONE_TIME: "avulso",
}


@dataclass
class Unit:
    """One transaction of a use case: the session, the business time, and
    where the messages it sends come from (correlation)."""

    session: AsyncSession
    now: datetime
    correlation_id: UUID = field(default_factory=new_id)
    causation_id: UUID | None = None
    cause: Envelope[Any] | None = None

    @classmethod
    def of_message(cls, ctx: MessageContext, now: datetime) -> Unit:
        message = ctx.message
        return cls(ctx.session, now, message.correlation_id, message.id, message)

    def emit(
        self, payload: Payload, *, topic: Topic, key: str | UUID | None, company_id: UUID | None
    ) -> None:
        envelope = Envelope.of(
            payload,
            actor=SYSTEM,
            company_id=company_id,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
        )
        outbox.add(self.session, envelope, topic=topic, key=key)

    def notify(self, template: str, *, company_id: UUID, data: dict[str, Any]) -> None:
        notification_id = new_id()
        self.emit(
            SendNotification(
                notification_id=notification_id,
                channel=Channel.EMAIL,
                template=template,
                recipient=BILLING_PEOPLE,
                data=data,
            ),
            topic=NOTIFY_COMMANDS,
            key=notification_id,
            company_id=company_id,
        )


@dataclass(frozen=True)
class InvoiceFacts:
    """What announcing an invoice reads, without building an ORM object
    (renewal runs issue invoices by the thousand)."""

    id: UUID
    company_id: UUID
    number: str
    kind: str
    status: str
    currency: str
    subtotal: int
    credit_applied: int
    total: int
    amount_paid: int
    amount_refunded: int
    due_at: datetime
    issued_at: datetime
    order_id: UUID | None
    purpose: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class LineSpec:
    description: str
    unit_amount: int
    quantity: int = 1
    product_code: str | None = None
    subscription_id: UUID | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None

    @property
    def amount(self) -> int:
        return self.unit_amount * self.quantity


def money(amount: int, currency: str) -> Money:
    return Money(amount=amount, currency=currency)


def is_staff(actor: Actor) -> bool:
    return actor.kind in (ActorKind.STAFF, ActorKind.SYSTEM)


def require_staff(actor: Actor, what: str) -> None:
    if not is_staff(actor):
        raise Forbidden(f"Só a equipe pode {what} / only staff may do this")


def require_company(company_id: UUID | None) -> UUID:
    if company_id is None:
        raise InvalidInput(
            "A mensagem não indica a empresa (company_id) / the message names no company"
        )
    return company_id


class BillingCore:
    """Dependencies and the invoice lifecycle every use case builds on."""

    def __init__(
        self,
        *,
        db: Database,
        settings: BillingSettings,
        clock: Clock,
        engine: JobEngine,
        stripe: PaymentGateway | None,
        pix_psp: PixProvider | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.engine = engine
        self.stripe = stripe
        self.pix_psp = pix_psp  # None: direct Pix codes, recorded by staff
        self.policy = settings.dunning_policy()

    def unit(self, session: AsyncSession, **kwargs: Any) -> Unit:
        return Unit(session, self.clock.now(), **kwargs)

    async def _check_domain_free(self, u: Unit, company_id: UUID, domain: str) -> None:
        """A paid plan holds its domain; to another company the refusal says no more."""
        holder = await repo.domain_holder(u.session, domain)
        if holder is None:
            return
        if holder.company_id == company_id:
            raise InvalidState(
                f"Você já tem uma hospedagem para {domain} / you already have hosting for {domain}"
            )
        raise InvalidState(
            f"O domínio {domain} não está disponível para contratação / {domain} cannot be ordered"
        )

    def _notice(self, invoice: Invoice | InvoiceFacts, **extra: Any) -> dict[str, Any]:
        """The data of a notification about ``invoice``."""
        return {**invoice_data(invoice, app_url=self.settings.app_url), **extra}

    async def _product(self, u: Unit, code: str, kind: ProductKind) -> Product:
        product = await repo.get(u.session, Product, code)
        if product is None or not product.active or product.kind != kind.value:
            what = "Plano" if kind is ProductKind.PLAN else "Adicional"
            en = "plan" if kind is ProductKind.PLAN else "add-on"
            raise UnknownProduct(
                f"{what} desconhecido ou fora de venda: {code!r} / unknown {en} {code!r}"
            )
        return product

    def _new_subscription(
        self,
        *,
        company_id: UUID,
        product: Product,
        cycle: BillingCycle,
        price: dict[str, Any],
        service_id: UUID,
        domain: str | None,
        now: datetime,
        order_id: UUID | None = None,
        parent_id: UUID | None = None,
    ) -> Subscription:
        return Subscription(
            id=new_id(),
            company_id=company_id,
            kind=product.kind,
            product_code=product.code,
            cycle=cycle.value,
            price=price["amount"],
            currency=price["currency"],
            status=SubscriptionStatus.PENDING.value,
            service_id=service_id,
            parent_id=parent_id,
            domain=domain,
            order_id=order_id,
            created_at=now,
            updated_at=now,
        )

    async def _invoice(
        self,
        u: Unit,
        invoice_id: UUID,
        *,
        company_id: UUID | None,
        actor: Actor,
        lock: bool = True,
    ) -> Invoice:
        """The invoice, if the asker may see it; another company's is "not found"."""
        invoice = await repo.get(u.session, Invoice, invoice_id, lock=lock)
        if invoice is None:
            raise invoice_not_found()
        if company_id is None and not is_staff(actor):
            raise invoice_not_found()
        if company_id is not None and invoice.company_id != company_id:
            raise invoice_not_found()
        return invoice

    async def _issue(
        self,
        u: Unit,
        *,
        invoice_id: UUID,
        company_id: UUID,
        kind: InvoiceKind,
        currency: str,
        lines: Sequence[LineSpec],
        due_at: datetime,
        order_id: UUID | None = None,
        purpose: dict[str, Any] | None = None,
    ) -> Invoice:
        """Draft → open: number it (gap-free), use account credit, announce it.
        An invoice that credit pays in full is paid at once."""
        credit = await repo.credit_balance(u.session, company_id, currency)
        sums = totals([line.amount for line in lines], credit_available=credit)
        series = str(u.now.year)
        number = invoice_number(series, await repo.take_numbers(u.session, series, 1))
        invoice = Invoice(
            id=invoice_id,
            company_id=company_id,
            number=number,
            kind=kind.value,
            status=InvoiceStatus.DRAFT.value,
            currency=currency,
            subtotal=sums.subtotal,
            credit_applied=sums.credit_applied,
            total=sums.total,
            due_at=due_at,
            issued_at=u.now,
            order_id=order_id,
            purpose=purpose or {},
            created_at=u.now,
            updated_at=u.now,
        )
        invoice.status = transition(invoice.status, InvoiceStatus.OPEN).value
        u.session.add(invoice)
        u.session.add_all(
            InvoiceLine(
                invoice_id=invoice_id,
                position=i,
                description=line.description,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                amount=line.amount,
                product_code=line.product_code,
                subscription_id=line.subscription_id,
                period_start=line.period_start,
                period_end=line.period_end,
            )
            for i, line in enumerate(lines)
        )
        if sums.credit_applied:
            await repo.move_credit(
                u.session,
                company_id=company_id,
                currency=currency,
                amount=-sums.credit_applied,
                reason=f"Crédito usado na fatura {number} / credit used on invoice {number}",
                now=u.now,
                invoice_id=invoice_id,
            )
        self._announce_issued(u, invoice, lines)
        if invoice.total == 0:
            await self._mark_paid(u, invoice, payment_id=None)
        return invoice

    def _announce_issued(
        self, u: Unit, invoice: Invoice | InvoiceFacts, lines: Sequence[LineSpec]
    ) -> None:
        currency = invoice.currency
        u.emit(
            msg.InvoiceIssued(
                invoice_id=invoice.id,
                number=invoice.number or "",
                order_id=invoice.order_id,
                lines=tuple(
                    msg.InvoiceLine(
                        description=line.description,
                        quantity=line.quantity,
                        unit_amount=money(line.unit_amount, currency),
                        amount=money(line.amount, currency),
                        subscription_id=line.subscription_id,
                        product_code=line.product_code,
                        period_start=line.period_start,
                        period_end=line.period_end,
                    )
                    for line in lines
                ),
                subtotal=money(invoice.subtotal, currency),
                credit_applied=money(invoice.credit_applied, currency),
                total=money(invoice.total, currency),
                due_at=invoice.due_at,
            ),
            topic=BILLING_INVOICE,
            key=invoice.id,
            company_id=invoice.company_id,
        )
        if invoice.total > 0:
            u.notify("invoice-issued", company_id=invoice.company_id, data=self._notice(invoice))

    async def _void(self, u: Unit, invoice: Invoice, reason: str) -> None:
        """Cancel an unpaid invoice: give back credit and partial payments,
        drop what it would have started."""
        invoice.status = transition(invoice.status, InvoiceStatus.VOID).value
        invoice.voided_at, invoice.void_reason, invoice.updated_at = u.now, reason[:500], u.now
        giveback = invoice.credit_applied + invoice.amount_paid
        if giveback:
            await repo.move_credit(
                u.session,
                company_id=invoice.company_id,
                currency=invoice.currency,
                amount=giveback,
                reason=f"Fatura {invoice.number} cancelada / invoice {invoice.number} voided",
                now=u.now,
                invoice_id=invoice.id,
            )
        u.emit(
            msg.InvoiceVoided(invoice_id=invoice.id, number=invoice.number or "", reason=reason),
            topic=BILLING_INVOICE,
            key=invoice.id,
            company_id=invoice.company_id,
        )
        kind = InvoiceKind(invoice.kind)
        if kind is InvoiceKind.ORDER and invoice.order_id is not None:
            order = await repo.get(u.session, Order, invoice.order_id, lock=True)
            if order is not None:
                order.status, order.updated_at = "cancelled", u.now
            for sub in await repo.pending_of_order(u.session, invoice.order_id):
                if sub.status == SubscriptionStatus.PENDING:
                    self._drop_pending(u, sub)
        elif kind is InvoiceKind.ADDON:
            for sub in await self._subs_on(u, invoice):
                if sub.status == SubscriptionStatus.PENDING:
                    self._drop_pending(u, sub)
        elif kind is InvoiceKind.RENEWAL:
            # no paid renewal, no next period: the subscription ends when this one does
            for sub in await self._subs_on(u, invoice):
                if sub.renewal_invoice_id == invoice.id:
                    sub.renewal_invoice_id = None
                    if sub.status in LIVE:
                        sub.cancel_at_period_end = True
                        sub.cancel_reason = f"fatura de renovação cancelada: {reason}"[:500]
        await self._close_attempts(u, invoice, keep=None)

    def _drop_pending(self, u: Unit, sub: Subscription) -> None:
        sub.status, sub.ended_at, sub.updated_at = SubscriptionStatus.CANCELLED.value, u.now, u.now
        sub.cancel_reason = "pedido não pago / order not paid"

    async def _subs_on(self, u: Unit, invoice: Invoice) -> list[Subscription]:
        lines = await repo.lines(u.session, invoice.id)
        ids = sorted({line.subscription_id for line in lines if line.subscription_id is not None})
        return await repo.subscriptions_by_id(u.session, ids)

    async def _to_credit(
        self, u: Unit, invoice: Invoice, amount: int, *, payment_id: UUID | None, why: str
    ) -> None:
        await repo.move_credit(
            u.session,
            company_id=invoice.company_id,
            currency=invoice.currency,
            amount=amount,
            reason=(
                f"Pagamento a mais na fatura {invoice.number} vira crédito / "
                f"payment on invoice {invoice.number} ({why}) kept as credit"
            ),
            now=u.now,
            invoice_id=invoice.id,
            payment_id=payment_id,
        )

    async def _mark_paid(self, u: Unit, invoice: Invoice, *, payment_id: UUID | None) -> None:
        invoice.status = transition(invoice.status, InvoiceStatus.PAID).value
        invoice.paid_at, invoice.updated_at = u.now, u.now
        u.emit(
            msg.InvoicePaid(
                invoice_id=invoice.id,
                number=invoice.number or "",
                amount_paid=money(invoice.amount_paid, invoice.currency),
                paid_at=u.now,
                payment_id=payment_id,
            ),
            topic=BILLING_INVOICE,
            key=invoice.id,
            company_id=invoice.company_id,
        )
        if invoice.subtotal > 0:
            u.notify("invoice-paid", company_id=invoice.company_id, data=self._notice(invoice))
        await self._close_attempts(u, invoice, keep=payment_id)
        kind = InvoiceKind(invoice.kind)
        if kind in (InvoiceKind.ORDER, InvoiceKind.ADDON):
            await self._start_paid(u, invoice)
        elif kind is InvoiceKind.RENEWAL:
            await self._renewal_paid(u, invoice)
        elif kind is InvoiceKind.CHANGE:
            await self._change_paid(u, invoice)

    def _provision(self, u: Unit, sub: Subscription, command: Payload) -> None:
        u.emit(command, topic=PROVISIONING_COMMANDS, key=sub.service_id, company_id=sub.company_id)

    # --- provided by the other parts of ``Billing`` (see service/__init__.py) -------------

    async def _close_attempts(self, u: Unit, invoice: Invoice, *, keep: UUID | None) -> None:
        raise NotImplementedError

    async def _start_paid(self, u: Unit, invoice: Invoice) -> None:
        raise NotImplementedError

    async def _renewal_paid(self, u: Unit, invoice: Invoice) -> None:
        raise NotImplementedError

    async def _change_paid(self, u: Unit, invoice: Invoice) -> None:
        raise NotImplementedError

    async def _start_stripe(
        self,
        u: Unit,
        invoice: Invoice,
        amount: int,
        kind: str,
        card: str | None,
        *,
        off_session: bool,
    ) -> Payment:
        raise NotImplementedError

    async def _end(
        self,
        u: Unit,
        sub: Subscription,
        status: SubscriptionStatus,
        reason: str,
        *,
        cascade: bool = False,
    ) -> None:
        raise NotImplementedError


# --- helpers ---------------------------------------------------------------------------------------


def addon_cycle(
    addon: Product, chosen: BillingCycle | None, plan_cycle: BillingCycle
) -> BillingCycle:
    if not addon.recurring:
        if chosen not in (None, BillingCycle.ONE_TIME):
            raise InvalidInput(
                f"{addon.code} é avulso (pagamento único) / {addon.code} is a one-time purchase"
            )
        return BillingCycle.ONE_TIME
    if chosen is BillingCycle.ONE_TIME:
        raise InvalidInput(f"{addon.code} é recorrente; escolha um ciclo / pick a cycle")
    return chosen or plan_cycle


def same_currency(price: dict[str, Any], currency: str, code: str) -> None:
    if price["currency"] != currency:
        raise InvalidInput(
            f"{code} é cobrado em {price['currency']}, o pedido em {currency}; uma fatura tem uma "
            f"só moeda / {code} is priced in {price['currency']}, the order in {currency}"
        )


def lines_for(
    product: Product, cycle: BillingCycle, price: dict[str, Any], subscription_id: UUID
) -> list[LineSpec]:
    label = "Plano" if product.kind == ProductKind.PLAN else "Adicional"
    lines = [
        LineSpec(
            f"{label} {product.name} — {CYCLE_PT[cycle]}",
            price["amount"],
            product_code=product.code,
            subscription_id=subscription_id,
        )
    ]
    if price.get("setup_fee"):
        lines.append(
            LineSpec(
                f"Taxa de instalação — {product.name} / setup fee",
                price["setup_fee"],
                product_code=product.code,
                subscription_id=subscription_id,
            )
        )
    return lines


def invoice_data(invoice: Invoice | InvoiceFacts, *, app_url: str) -> dict[str, Any]:
    """What the invoice templates of notify fill in (``number``, ``amount_cents``
    with ``currency``, ``due_date``, ``link``) and a few facts more."""
    unpaid = invoice.status in UNPAID
    return {
        "invoice_id": str(invoice.id),
        "number": invoice.number,
        "amount_cents": invoice.total - invoice.amount_paid if unpaid else invoice.amount_paid,
        "currency": invoice.currency,
        "due_date": f"{invoice.due_at:%d/%m/%Y}",
        "due_at": invoice.due_at.isoformat(),
        "kind": invoice.kind,
        "link": f"{app_url.rstrip('/')}/faturas/{invoice.id}",
    }
