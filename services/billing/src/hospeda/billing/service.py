"""Billing's use cases: the catalog, orders, invoices, payments, refunds,
subscriptions, renewals and dunning.

This is the only place that writes the outbox. Every use case runs inside
one transaction (a ``Unit``): whatever it changes and every message it
sends commit together or not at all. Each is idempotent on its own terms
(check-then-act on rows locked ``FOR UPDATE``), so a redelivered command, a
second webhook, a customer's redirect and a retried job can race without
applying a payment twice or provisioning what was not paid.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.billing import repository as repo
from hospeda.billing.adapters.stripe import PaymentGateway
from hospeda.billing.config import BillingSettings
from hospeda.billing.domain import (
    LIVE,
    UNPAID,
    DunningStep,
    InvalidInput,
    InvalidState,
    InvoiceKind,
    InvoiceStatus,
    SubscriptionStatus,
    UnknownProduct,
    check_email,
    check_product,
    check_refund,
    dunning_steps,
    format_money,
    invoice_not_found,
    invoice_number,
    normalise_domain,
    period_end,
    price_for,
    prorate,
    subscription_not_found,
    totals,
    transition,
)
from hospeda.billing.models import (
    Account,
    CreditBalance,
    Invoice,
    InvoiceLine,
    Order,
    Payment,
    Product,
    Refund,
    Subscription,
)
from hospeda.billing.pix import build_payload, txid_for
from hospeda.contracts import Actor, ActorKind, Envelope, Money, Payload, Topic, new_id
from hospeda.contracts import billing as msg
from hospeda.contracts.billing import BillingCycle, PaymentMethod, ProductKind
from hospeda.contracts.notify import Channel, Recipient, SendNotification
from hospeda.contracts.ops import OperatorAlertRaised, Severity
from hospeda.contracts.provisioning import (
    ChangeAddon,
    ChangePackage,
    CreateAccount,
    DisableAddon,
    EnableAddon,
    SuspendAccount,
    TerminateAccount,
    UnsuspendAccount,
)
from hospeda.contracts.topics import (
    BILLING_CATALOG,
    BILLING_INVOICE,
    BILLING_ORDER,
    BILLING_PAYMENT,
    BILLING_SUBSCRIPTION,
    NOTIFY_COMMANDS,
    OPS_ALERT,
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
_PAYMENT_METHOD_REF = re.compile(r"^pm_[A-Za-z0-9_]+$")


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


class Billing:
    """Billing's use cases, with their dependencies in sight."""

    def __init__(
        self,
        *,
        db: Database,
        settings: BillingSettings,
        clock: Clock,
        engine: JobEngine,
        stripe: PaymentGateway | None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.engine = engine
        self.stripe = stripe
        self.policy = settings.dunning_policy()

    def unit(self, session: AsyncSession, **kwargs: Any) -> Unit:
        return Unit(session, self.clock.now(), **kwargs)

    # ==== catalog ===============================================================================

    async def publish_product(
        self, u: Unit, *, actor: Actor, item: msg.PublishCatalogItem
    ) -> Product:
        """Create or change a plan or add-on and tell the marketplace."""
        require_staff(actor, "mudar o catálogo")
        prices = [_price_row(p) for p in item.prices]
        check_product(
            code=item.code,
            kind=item.kind,
            recurring=item.recurring,
            prices=prices,
            whm_package=item.whm_package,
        )
        product = await repo.get(u.session, Product, item.code, lock=True)
        if product is None:
            product = Product(code=item.code, kind=item.kind.value, version=0, updated_at=u.now)
            u.session.add(product)
        elif product.kind != item.kind.value:
            raise InvalidInput(
                f"{item.code} já é um {product.kind}; use outro código / {item.code} is already a "
                f"{product.kind}; use another code"
            )
        product.name, product.description = item.name, item.description
        product.recurring, product.whm_package = item.recurring, item.whm_package
        product.prices, product.active = prices, True
        product.version += 1
        product.updated_at = u.now
        u.emit(_published(product), topic=BILLING_CATALOG, key=product.code, company_id=None)
        return product

    async def retire_product(self, u: Unit, *, actor: Actor, code: str) -> None:
        require_staff(actor, "mudar o catálogo")
        product = await repo.get(u.session, Product, code, lock=True)
        if product is None:
            raise UnknownProduct(f"Produto desconhecido: {code!r} / unknown product {code!r}")
        if not product.active:
            return
        product.active = False
        product.version += 1
        product.updated_at = u.now
        u.emit(msg.CatalogItemRetired(code=code), topic=BILLING_CATALOG, key=code, company_id=None)

    async def seed_catalog(self, u: Unit, items: Sequence[msg.PublishCatalogItem]) -> int:
        """Publish the items that do not exist yet (staff edits are kept)."""
        created = 0
        for item in items:
            if await repo.get(u.session, Product, item.code) is None:
                await self.publish_product(u, actor=SYSTEM, item=item)
                created += 1
        return created

    async def _product(self, u: Unit, code: str, kind: ProductKind) -> Product:
        product = await repo.get(u.session, Product, code)
        if product is None or not product.active or product.kind != kind.value:
            what = "Plano" if kind is ProductKind.PLAN else "Adicional"
            en = "plan" if kind is ProductKind.PLAN else "add-on"
            raise UnknownProduct(
                f"{what} desconhecido ou fora de venda: {code!r} / unknown {en} {code!r}"
            )
        return product

    # ==== orders =================================================================================

    async def place_order(self, u: Unit, *, company_id: UUID | None, order: msg.PlaceOrder) -> None:
        """Price an order, create its (pending) subscriptions and issue its invoice."""
        company_id = require_company(company_id)
        existing = await repo.get(u.session, Order, order.order_id)
        if existing is not None:
            if existing.company_id != company_id:
                raise InvalidInput(
                    "Este número de pedido já foi usado / this order id is already taken"
                )
            return  # the same order again: nothing new
        if order.cycle is BillingCycle.ONE_TIME:
            raise InvalidInput("Planos são recorrentes; escolha um ciclo / plans need a cycle")
        domain = normalise_domain(order.domain)
        plan = await self._product(u, order.plan_code, ProductKind.PLAN)
        plan_price = price_for(plan.prices, order.cycle, code=plan.code)
        currency = plan_price["currency"]
        account = await repo.account(u.session, company_id, u.now)
        email = check_email(order.contact_email) if order.contact_email else account.contact_email
        if not email:
            raise InvalidInput(
                "Informe o e-mail de contato do serviço (contact_email) / "
                "give the service's contact e-mail (contact_email)"
            )
        if await repo.domain_in_use(u.session, domain):
            raise InvalidState(
                f"O domínio {domain} já tem um serviço de hospedagem / "
                f"{domain} already has a hosting service"
            )
        service_id = new_id()
        plan_sub = self._new_subscription(
            company_id=company_id,
            product=plan,
            cycle=order.cycle,
            price=plan_price,
            service_id=service_id,
            domain=domain,
            order_id=order.order_id,
            now=u.now,
        )
        subs, lines = [plan_sub], _lines_for(plan, order.cycle, plan_price, plan_sub.id)
        seen: set[str] = set()
        for choice in order.addons:
            if choice.code in seen:
                raise InvalidInput(
                    f"Adicional repetido: {choice.code} / add-on listed twice: {choice.code}"
                )
            seen.add(choice.code)
            addon = await self._product(u, choice.code, ProductKind.ADDON)
            cycle = _addon_cycle(addon, choice.cycle, order.cycle)
            price = price_for(addon.prices, cycle, code=addon.code)
            _same_currency(price, currency, addon.code)
            sub = self._new_subscription(
                company_id=company_id,
                product=addon,
                cycle=cycle,
                price=price,
                service_id=service_id,
                domain=domain,
                order_id=order.order_id,
                parent_id=plan_sub.id,
                now=u.now,
            )
            subs.append(sub)
            lines += _lines_for(addon, cycle, price, sub.id)
        account.contact_email, account.updated_at = email, u.now
        invoice_id = new_id()
        record = Order(
            id=order.order_id,
            company_id=company_id,
            plan_code=plan.code,
            domain=domain,
            cycle=order.cycle.value,
            addons=[{"code": s.product_code, "cycle": s.cycle} for s in subs[1:]],
            contact_email=email,
            status="placed",
            invoice_id=invoice_id,
            total=sum(line.amount for line in lines),
            currency=currency,
            created_at=u.now,
            updated_at=u.now,
        )
        u.session.add(record)
        u.session.add_all(subs)
        await u.session.flush()
        u.emit(
            msg.OrderPlaced(
                order_id=record.id,
                plan_code=plan.code,
                domain=domain,
                cycle=order.cycle,
                addons=tuple(
                    msg.OrderAddon(code=s.product_code, cycle=BillingCycle(s.cycle))
                    for s in subs[1:]
                ),
                total=money(record.total, currency),
                invoice_id=invoice_id,
            ),
            topic=BILLING_ORDER,
            key=record.id,
            company_id=company_id,
        )
        await self._issue(
            u,
            invoice_id=invoice_id,
            company_id=company_id,
            kind=InvoiceKind.ORDER,
            currency=currency,
            lines=lines,
            due_at=u.now + timedelta(days=self.settings.order_due_days),
            order_id=record.id,
        )

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

    # ==== invoices =================================================================================

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
            u.notify("invoice-issued", company_id=invoice.company_id, data=_invoice_data(invoice))

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

    async def void_invoice(
        self,
        u: Unit,
        *,
        company_id: UUID | None,
        actor: Actor,
        invoice_id: UUID,
        reason: str,
    ) -> None:
        invoice = await self._invoice(u, invoice_id, company_id=company_id, actor=actor)
        if invoice.status == InvoiceStatus.VOID:
            return
        await self._void(u, invoice, reason)

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
        ids = sorted(
            {line.subscription_id for line in await repo.lines(u.session, invoice.id)} - {None}
        )
        return await repo.subscriptions_by_id(u.session, ids)  # type: ignore[arg-type]

    # ==== payments ==================================================================================

    async def pay_invoice(
        self,
        u: Unit,
        *,
        company_id: UUID | None,
        actor: Actor,
        invoice_id: UUID,
        method: PaymentMethod,
        payment_method_ref: str | None,
    ) -> Payment | None:
        """Start paying an invoice. Card and Stripe Pix go to Stripe through a
        job; a direct Pix BR Code is made here. Returns the attempt (None when
        one that already does the job exists)."""
        invoice = await self._invoice(u, invoice_id, company_id=company_id, actor=actor)
        if invoice.status not in UNPAID:
            raise InvalidState(
                f"A fatura {invoice.number} está {invoice.status}: nada a pagar / "
                f"invoice {invoice.number} is {invoice.status}: nothing to pay"
            )
        due = invoice.total - invoice.amount_paid
        attempts = await repo.open_attempts(u.session, invoice.id)
        if method is PaymentMethod.CREDIT:
            await self._pay_with_credit(u, invoice)
            return None
        if method in (PaymentMethod.CARD, PaymentMethod.PIX_STRIPE) and self.stripe is None:
            raise InvalidState(
                "Pagamentos pelo Stripe não estão configurados / Stripe payments are not configured"
            )
        if method in (PaymentMethod.PIX, PaymentMethod.PIX_STRIPE) and invoice.currency != "BRL":
            raise InvalidInput("Pix só aceita reais (BRL) / Pix takes BRL only")
        if method is PaymentMethod.CARD:
            if any(a.provider == "stripe" and a.status == "pending" for a in attempts):
                raise InvalidState(
                    "Já há um pagamento em processamento para esta fatura; aguarde / "
                    "a payment for this invoice is already being processed; please wait"
                )
            account = await repo.account(u.session, invoice.company_id, u.now)
            card = payment_method_ref or account.default_payment_method
            if not card or not _PAYMENT_METHOD_REF.match(card):
                raise InvalidInput(
                    "Informe o cartão: o id pm_… que o Stripe devolveu no navegador / "
                    "give the card: the pm_… id Stripe returned in the browser"
                )
            return await self._start_stripe(u, invoice, due, "card", card, off_session=False)
        same = [a for a in attempts if a.method == method.value]
        if same:
            return None  # the Pix code already shown is still good
        if method is PaymentMethod.PIX_STRIPE:
            return await self._start_stripe(u, invoice, due, "pix", None, off_session=False)
        return self._direct_pix(u, invoice, due)

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
        payment = Payment(
            id=new_id(),
            company_id=invoice.company_id,
            invoice_id=invoice.id,
            method=PaymentMethod.CARD.value if kind == "card" else PaymentMethod.PIX_STRIPE.value,
            provider="stripe",
            amount=amount,
            currency=invoice.currency,
            status="pending",
            off_session=off_session,
            payment_method_ref=card,
            created_at=u.now,
            updated_at=u.now,
        )
        u.session.add(payment)
        await self.engine.enqueue(
            u.session,
            "stripe-pay",
            {"payment_id": str(payment.id)},
            key=f"payment:{payment.id}",
            target="stripe",
            dedupe_key=f"pay:{payment.id}",
            company_id=invoice.company_id,
            cause=u.cause,
        )
        return payment

    def _direct_pix(self, u: Unit, invoice: Invoice, amount: int) -> Payment:
        if not self.settings.pix_key:
            raise InvalidState(
                "Pix direto não está configurado (chave Pix) / direct Pix is not configured"
            )
        payment_id = new_id()
        txid = txid_for(payment_id)
        code = build_payload(
            key=self.settings.pix_key,
            merchant_name=self.settings.pix_merchant_name,
            merchant_city=self.settings.pix_merchant_city,
            amount=amount,
            txid=txid,
            message=f"Fatura {invoice.number}",
        )
        payment = Payment(
            id=payment_id,
            company_id=invoice.company_id,
            invoice_id=invoice.id,
            method=PaymentMethod.PIX.value,
            provider="pix",
            provider_reference=txid,
            amount=amount,
            currency=invoice.currency,
            status="requires_action",
            next_action={"type": "pix_br_code", "copy_paste": code, "txid": txid},
            expires_at=u.now + timedelta(seconds=self.settings.pix_expires_after_s),
            created_at=u.now,
            updated_at=u.now,
        )
        u.session.add(payment)
        return payment

    async def _pay_with_credit(self, u: Unit, invoice: Invoice) -> None:
        available = await repo.credit_balance(u.session, invoice.company_id, invoice.currency)
        used = min(available, invoice.total - invoice.amount_paid)
        if used <= 0:
            raise InvalidState("Não há crédito disponível / there is no account credit")
        await repo.move_credit(
            u.session,
            company_id=invoice.company_id,
            currency=invoice.currency,
            amount=-used,
            reason=f"Crédito usado na fatura {invoice.number} / credit used on invoice {invoice.number}",
            now=u.now,
            invoice_id=invoice.id,
        )
        invoice.credit_applied += used
        invoice.total -= used
        invoice.updated_at = u.now
        if invoice.amount_paid >= invoice.total:
            await self._mark_paid(u, invoice, payment_id=None)

    async def record_pix_payment(
        self, u: Unit, *, actor: Actor, company_id: UUID | None, payment: msg.RecordPixPayment
    ) -> None:
        """Staff reconciled a direct Pix transfer by its txid."""
        require_staff(actor, "registrar pagamentos Pix")
        if payment.amount.amount <= 0:
            raise InvalidInput("O valor recebido deve ser positivo / the amount must be positive")
        attempt = await repo.payment_by_reference(u.session, payment.txid, lock=True)
        invoice = await self._invoice(
            u, payment.invoice_id, company_id=company_id, actor=actor, lock=False
        )
        if attempt is None or attempt.invoice_id != invoice.id or attempt.provider != "pix":
            raise InvalidInput(
                f"Nenhuma cobrança Pix {payment.txid} nesta fatura / "
                f"no Pix charge {payment.txid} on this invoice"
            )
        if payment.amount.currency != attempt.currency:
            raise InvalidInput("Moeda diferente da cobrança / currency differs from the charge")
        await self.apply_success(u, attempt.id, amount=payment.amount.amount)

    async def apply_success(
        self, u: Unit, payment_id: UUID, *, amount: int, reference: str | None = None
    ) -> bool:
        """Money arrived for a payment attempt. Applied once: the attempt's row
        is locked and its status checked first. Money for an invoice that no
        longer needs it (already paid, voided) becomes account credit — never
        lost, never applied twice. Returns whether anything changed."""
        payment = await repo.get(u.session, Payment, payment_id, lock=True)
        if payment is None or payment.status == "succeeded":
            return False
        if reference and payment.provider_reference is None:
            payment.provider_reference = reference
        payment.status, payment.succeeded_at, payment.updated_at = "succeeded", u.now, u.now
        payment.amount = amount
        payment.failure_code = payment.failure_reason = None
        u.emit(
            msg.PaymentSucceeded(
                payment_id=payment.id,
                invoice_id=payment.invoice_id,
                amount=money(amount, payment.currency),
                method=PaymentMethod(payment.method),
                provider=payment.provider,
                provider_reference=payment.provider_reference,
            ),
            topic=BILLING_PAYMENT,
            key=payment.id,
            company_id=payment.company_id,
        )
        if payment.method == PaymentMethod.CARD and not payment.off_session:
            account = await repo.account(u.session, payment.company_id, u.now)
            account.default_payment_method = payment.payment_method_ref  # saved for renewals
            account.updated_at = u.now
        invoice = await repo.get(u.session, Invoice, payment.invoice_id, lock=True)
        assert invoice is not None
        if invoice.status not in UNPAID:
            await self._to_credit(u, invoice, amount, payment_id=payment.id, why="already settled")
            return True
        invoice.amount_paid += amount
        invoice.updated_at = u.now
        excess = invoice.amount_paid - invoice.total
        if excess >= 0:
            invoice.amount_paid = invoice.total
            if excess:
                await self._to_credit(u, invoice, excess, payment_id=payment.id, why="overpaid")
            await self._mark_paid(u, invoice, payment_id=payment.id)
        return True

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

    async def apply_failure(
        self, u: Unit, payment_id: UUID, *, code: str, reason: str, status: str = "failed"
    ) -> bool:
        """A payment attempt failed (declined, expired, cancelled). The invoice
        stays open; the customer is told. Returns whether anything changed."""
        payment = await repo.get(u.session, Payment, payment_id, lock=True)
        if payment is None or payment.status not in ("pending", "requires_action"):
            return False
        payment.status, payment.updated_at = status, u.now
        payment.failure_code, payment.failure_reason = code[:100], reason[:500]
        invoice = await repo.get(u.session, Invoice, payment.invoice_id)
        assert invoice is not None
        u.emit(
            msg.PaymentFailed(
                payment_id=payment.id,
                invoice_id=payment.invoice_id,
                amount=money(payment.amount, payment.currency),
                method=PaymentMethod(payment.method),
                reason=reason,
                code=code,
            ),
            topic=BILLING_PAYMENT,
            key=payment.id,
            company_id=payment.company_id,
        )
        if status != "canceled" and invoice.status in UNPAID:
            u.notify(
                "payment-failed",
                company_id=payment.company_id,
                data={**_invoice_data(invoice), "reason": reason, "code": code},
            )
        return True

    async def record_intent(self, u: Unit, payment_id: UUID, intent: dict[str, Any]) -> None:
        """Bring a payment attempt in line with its Stripe PaymentIntent."""
        payment = await repo.get(u.session, Payment, payment_id, lock=True)
        if payment is None:
            return
        if payment.provider_reference is None:
            payment.provider_reference = str(intent["id"])
        status = intent.get("status")
        if status == "succeeded":
            await self.apply_success(
                u, payment.id, amount=int(intent.get("amount_received") or intent["amount"])
            )
        elif status == "requires_action" and payment.status in ("pending", "requires_action"):
            action = _next_action(intent.get("next_action") or {})
            payment.status, payment.next_action, payment.updated_at = (
                "requires_action",
                action,
                u.now,
            )
            if action.get("expires_at"):
                payment.expires_at = datetime.fromisoformat(action["expires_at"])
        elif status == "requires_payment_method" and intent.get("last_payment_error"):
            error = intent["last_payment_error"]
            code = str(error.get("code") or "payment_failed")
            expired = "expired" in code
            await self.apply_failure(
                u,
                payment.id,
                code=code,
                reason=str(error.get("message") or "Pagamento recusado / payment declined"),
                status="expired" if expired else "failed",
            )
        elif status == "canceled":
            await self.apply_failure(
                u, payment.id, code="canceled", reason="Cancelado / cancelled", status="canceled"
            )

    async def handle_stripe_event(self, u: Unit, event: dict[str, Any]) -> bool:
        """Apply a verified Stripe webhook event once (by event id)."""
        if not await repo.record_event(u.session, str(event["id"]), str(event["type"]), u.now):
            return False
        kind = str(event["type"])
        data = (event.get("data") or {}).get("object") or {}
        if kind.startswith("payment_intent."):
            payment = await self._payment_for_intent(u, data)
            if payment is not None:
                await self.record_intent(u, payment.id, data)
        elif kind.startswith("refund."):
            await self._settle_stripe_refund(u, data)
        elif kind == "charge.refunded":
            for refund in (data.get("refunds") or {}).get("data") or []:
                await self._settle_stripe_refund(u, refund)
        return True

    async def _payment_for_intent(self, u: Unit, intent: dict[str, Any]) -> Payment | None:
        reference = str(intent.get("id", ""))
        payment = await repo.payment_by_reference(u.session, reference, lock=True)
        if payment is None:
            payment_id = _uuid((intent.get("metadata") or {}).get("payment_id"))
            payment = (
                await repo.get(u.session, Payment, payment_id, lock=True) if payment_id else None
            )
            if payment is not None and payment.provider_reference is None:
                payment.provider_reference = reference
        if payment is None:
            log.info("Stripe PaymentIntent %s is not one of ours; ignored", reference)
        return payment

    async def payment_for_confirmation(
        self, u: Unit, *, invoice_id: UUID, company_id: UUID | None, intent: dict[str, Any]
    ) -> Payment | None:
        """The attempt a customer's redirect refers to, if the PaymentIntent
        really belongs to that invoice and company."""
        payment = await self._payment_for_intent(u, intent)
        if payment is None or payment.invoice_id != invoice_id:
            return None
        if company_id is not None and payment.company_id != company_id:
            return None
        return payment

    async def confirm_payment(
        self,
        u: Unit,
        *,
        company_id: UUID | None,
        actor: Actor,
        confirmation: msg.ConfirmPayment,
    ) -> None:
        """The customer came back from Stripe: check the PaymentIntent there."""
        invoice = await self._invoice(
            u, confirmation.invoice_id, company_id=company_id, actor=actor, lock=False
        )
        if invoice.status not in UNPAID:
            return  # already settled (or voided): nothing to look up
        if self.stripe is None:
            raise InvalidState("Stripe não está configurado / Stripe is not configured")
        await self.engine.enqueue(
            u.session,
            "stripe-sync",
            {
                "payment_intent_id": confirmation.payment_intent_id,
                "invoice_id": str(invoice.id),
                "company_id": str(invoice.company_id),
            },
            key=None,
            target="stripe",
            dedupe_key=f"sync:{u.causation_id or new_id()}",
            company_id=invoice.company_id,
            cause=u.cause,
        )

    async def _close_attempts(self, u: Unit, invoice: Invoice, *, keep: UUID | None) -> None:
        """The invoice no longer needs money: withdraw the other open attempts
        (a Pix code left on screen, a 3-D Secure page) so nobody pays twice.
        If someone still does, it becomes credit."""
        for attempt in await repo.open_attempts(u.session, invoice.id):
            if attempt.id == keep:
                continue
            if attempt.provider == "stripe" and attempt.status == "requires_action":
                await self.engine.enqueue(
                    u.session,
                    "stripe-cancel",
                    {"payment_id": str(attempt.id)},
                    key=f"payment:{attempt.id}",
                    target="stripe",
                    dedupe_key=f"cancel:{attempt.id}",
                    company_id=invoice.company_id,
                )
            elif attempt.provider == "pix":
                attempt.status, attempt.updated_at = "canceled", u.now

    async def expire_pix(self, now: datetime, *, batch: int = 200) -> int:
        """Direct Pix codes past their expiry stop being valid."""
        async with self.db.transaction() as session:
            u = Unit(session, now)
            expired = await repo.expired_pix(session, now, batch)
            for payment in expired:
                await self.apply_failure(
                    u,
                    payment.id,
                    code="expired",
                    reason="O Pix expirou sem pagamento / the Pix code expired unpaid",
                    status="expired",
                )
        return len(expired)

    # ==== refunds ==================================================================================

    async def refund_invoice(
        self,
        u: Unit,
        *,
        company_id: UUID | None,
        actor: Actor,
        invoice_id: UUID,
        amount: Money | None,
        reason: str,
    ) -> None:
        """Staff: return money on a paid invoice, fully or partly. Stripe
        refunds go through a job; a direct Pix is returned by the bank and
        recorded here."""
        require_staff(actor, "reembolsar")
        invoice = await self._invoice(u, invoice_id, company_id=company_id, actor=actor)
        if amount is not None and amount.currency != invoice.currency:
            raise InvalidInput(
                f"Moeda {amount.currency} diferente da fatura ({invoice.currency}) / "
                "currency differs from the invoice"
            )
        existing = await repo.refunds(u.session, invoice.id)
        pending = sum(r.amount for r in existing if r.status == "pending")
        value, full = check_refund(
            status=invoice.status,
            amount_paid=invoice.amount_paid,
            amount_refunded=invoice.amount_refunded + pending,
            amount=amount.amount if amount is not None else None,
        )
        held: dict[UUID, int] = defaultdict(int)
        for refund in existing:
            if refund.status != "failed":
                held[refund.payment_id] += refund.amount
        left = value
        for payment in await repo.payments(u.session, company_id=None, invoice_id=invoice.id):
            if left == 0:
                break
            if payment.status != "succeeded" or payment.provider not in ("stripe", "pix"):
                continue
            share = min(left, payment.amount - held[payment.id])
            if share <= 0:
                continue
            left -= share
            refund = Refund(
                id=new_id(),
                company_id=invoice.company_id,
                invoice_id=invoice.id,
                payment_id=payment.id,
                amount=share,
                currency=invoice.currency,
                reason=reason,
                status="pending",
                full=full and left == 0,
                created_at=u.now,
            )
            u.session.add(refund)
            if payment.provider == "stripe":
                await self.engine.enqueue(
                    u.session,
                    "stripe-refund",
                    {"refund_id": str(refund.id)},
                    key=f"refund:{refund.id}",
                    target="stripe",
                    dedupe_key=f"refund:{refund.id}",
                    company_id=invoice.company_id,
                    cause=u.cause,
                )
            else:
                await u.session.flush()
                await self.settle_refund(u, refund.id, status="succeeded", reference=None)
        if left:
            raise InvalidState(
                "Parte do valor foi paga com crédito e não volta em dinheiro / "
                "part of this invoice was paid with account credit, which is not refunded in cash"
            )

    async def settle_refund(
        self, u: Unit, refund_id: UUID, *, status: str, reference: str | None
    ) -> None:
        """Record a refund's outcome once."""
        refund = await repo.get(u.session, Refund, refund_id, lock=True)
        if refund is None or refund.status != "pending":
            return
        if reference and refund.provider_reference is None:
            refund.provider_reference = reference
        if status == "pending":
            return
        refund.settled_at = u.now
        if status != "succeeded":
            refund.status = "failed"
            u.emit(
                OperatorAlertRaised(
                    alert_id=new_id(),
                    severity=Severity.CRITICAL,
                    source=SERVICE,
                    summary=f"Reembolso {refund.id} falhou no Stripe / refund failed: {status}",
                    details={"refund_id": str(refund.id), "invoice_id": str(refund.invoice_id)},
                ),
                topic=OPS_ALERT,
                key=SERVICE,
                company_id=refund.company_id,
            )
            return
        refund.status = "succeeded"
        payment = await repo.get(u.session, Payment, refund.payment_id, lock=True)
        invoice = await repo.get(u.session, Invoice, refund.invoice_id, lock=True)
        assert payment is not None and invoice is not None
        payment.amount_refunded += refund.amount
        invoice.amount_refunded += refund.amount
        full = invoice.amount_refunded >= invoice.amount_paid
        target = InvoiceStatus.REFUNDED if full else InvoiceStatus.PARTIALLY_REFUNDED
        invoice.status, invoice.updated_at = transition(invoice.status, target).value, u.now
        u.emit(
            msg.PaymentRefunded(
                payment_id=payment.id,
                invoice_id=invoice.id,
                amount=money(refund.amount, refund.currency),
                provider_reference=refund.provider_reference,
            ),
            topic=BILLING_PAYMENT,
            key=payment.id,
            company_id=invoice.company_id,
        )
        u.emit(
            msg.InvoiceRefunded(
                invoice_id=invoice.id,
                number=invoice.number or "",
                amount=money(refund.amount, refund.currency),
                fully_refunded=full,
                reason=refund.reason,
            ),
            topic=BILLING_INVOICE,
            key=invoice.id,
            company_id=invoice.company_id,
        )

    async def _settle_stripe_refund(self, u: Unit, data: dict[str, Any]) -> None:
        refund_id = _uuid((data.get("metadata") or {}).get("refund_id"))
        if refund_id is None and data.get("id"):
            found = await repo.refund_by_reference(u.session, str(data["id"]))
            refund_id = found.id if found else None
        if refund_id is not None:
            await self.settle_refund(
                u, refund_id, status=str(data.get("status")), reference=data.get("id")
            )

    # ==== paid invoices: what they start ===============================================================

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
            u.notify("invoice-paid", company_id=invoice.company_id, data=_invoice_data(invoice))
        await self._close_attempts(u, invoice, keep=payment_id)
        kind = InvoiceKind(invoice.kind)
        if kind in (InvoiceKind.ORDER, InvoiceKind.ADDON):
            await self._start_paid(u, invoice)
        elif kind is InvoiceKind.RENEWAL:
            await self._renewal_paid(u, invoice)
        elif kind is InvoiceKind.CHANGE:
            await self._change_paid(u, invoice)

    async def _start_paid(self, u: Unit, invoice: Invoice) -> None:
        """A new order or add-on was paid: activate and provision what it bought."""
        if invoice.order_id is not None:
            order = await repo.get(u.session, Order, invoice.order_id, lock=True)
            if order is not None:
                order.status, order.updated_at = "paid", u.now
        subs = await self._subs_on(u, invoice)
        subs.sort(key=lambda s: s.kind != ProductKind.PLAN.value)  # the account before its add-ons
        lines = {line.subscription_id: line for line in await repo.lines(u.session, invoice.id)}
        for sub in subs:
            if sub.status != SubscriptionStatus.PENDING:
                continue
            parent = (
                await repo.get(u.session, Subscription, sub.parent_id) if sub.parent_id else None
            )
            if parent is not None and parent.status not in (*LIVE, SubscriptionStatus.PENDING):
                # the service ended before its add-on was paid: keep the money as credit
                self._drop_pending(u, sub)
                line = lines.get(sub.id)
                if line is not None:
                    await self._to_credit(
                        u, invoice, line.amount, payment_id=None, why="service ended"
                    )
                continue
            await self._activate(u, sub)

    async def _activate(self, u: Unit, sub: Subscription) -> None:
        cycle = BillingCycle(sub.cycle)
        sub.status, sub.updated_at = SubscriptionStatus.ACTIVE.value, u.now
        sub.anchor_at = sub.period_start = u.now
        sub.period_number = 0
        sub.period_end = period_end(u.now, cycle, 0) if cycle is not BillingCycle.ONE_TIME else None
        kind = ProductKind(sub.kind)
        u.emit(
            msg.SubscriptionActivated(
                subscription_id=sub.id,
                kind=kind,
                product_code=sub.product_code,
                service_id=sub.service_id,
                parent_subscription_id=sub.parent_id,
                domain=sub.domain,
                cycle=cycle,
                price=money(sub.price, sub.currency),
                period_start=sub.period_start,
                period_end=sub.period_end,
            ),
            topic=BILLING_SUBSCRIPTION,
            key=sub.id,
            company_id=sub.company_id,
        )
        if kind is ProductKind.PLAN:
            product = await repo.get(u.session, Product, sub.product_code)
            order = await repo.get(u.session, Order, sub.order_id) if sub.order_id else None
            account = await repo.account(u.session, sub.company_id, u.now)
            email = (order.contact_email if order else None) or account.contact_email
            assert product is not None and product.whm_package and sub.domain and email
            self._provision(
                u,
                sub,
                CreateAccount(
                    service_id=sub.service_id,
                    subscription_id=sub.id,
                    domain=sub.domain,
                    plan_code=sub.product_code,
                    whm_package=product.whm_package,
                    contact_email=email,
                ),
            )
        else:
            self._provision(
                u,
                sub,
                EnableAddon(
                    service_id=sub.service_id, addon_code=sub.product_code, subscription_id=sub.id
                ),
            )

    def _provision(self, u: Unit, sub: Subscription, command: Payload) -> None:
        u.emit(command, topic=PROVISIONING_COMMANDS, key=sub.service_id, company_id=sub.company_id)

    async def _renewal_paid(self, u: Unit, invoice: Invoice) -> None:
        """A renewal was paid: the next period starts where the last ended;
        a service suspended for it serves again."""
        subs = {s.id: s for s in await self._subs_on(u, invoice)}
        reactivate: list[Subscription] = []
        for line in await repo.lines(u.session, invoice.id):
            sub = subs.get(line.subscription_id) if line.subscription_id else None
            if sub is None or line.period_start is None or line.period_end is None:
                continue
            if sub.status not in LIVE or sub.renewal_invoice_id != invoice.id:
                await self._to_credit(u, invoice, line.amount, payment_id=None, why="service ended")
                continue
            sub.period_number += 1
            sub.period_start, sub.period_end = line.period_start, line.period_end
            sub.renewal_invoice_id, sub.updated_at = None, u.now
            u.emit(
                msg.SubscriptionRenewed(
                    subscription_id=sub.id,
                    period_start=line.period_start,
                    period_end=line.period_end,
                    invoice_id=invoice.id,
                ),
                topic=BILLING_SUBSCRIPTION,
                key=sub.id,
                company_id=sub.company_id,
            )
            if sub.status == SubscriptionStatus.SUSPENDED:
                reactivate.append(sub)
        for sub in reactivate:
            await self._reactivate(u, sub)

    async def _reactivate(self, u: Unit, sub: Subscription) -> None:
        if sub.status != SubscriptionStatus.SUSPENDED:
            return
        sub.status, sub.updated_at = SubscriptionStatus.ACTIVE.value, u.now
        u.emit(
            msg.SubscriptionReactivated(subscription_id=sub.id),
            topic=BILLING_SUBSCRIPTION,
            key=sub.id,
            company_id=sub.company_id,
        )
        if sub.kind == ProductKind.PLAN:
            self._provision(u, sub, UnsuspendAccount(service_id=sub.service_id))
            for addon in await repo.addons_of(
                u.session, sub.id, statuses=[SubscriptionStatus.SUSPENDED.value]
            ):
                if addon.renewal_invoice_id is None or not await self._is_unpaid(
                    u, addon.renewal_invoice_id
                ):
                    addon.status, addon.updated_at = SubscriptionStatus.ACTIVE.value, u.now
                    u.emit(
                        msg.SubscriptionReactivated(subscription_id=addon.id),
                        topic=BILLING_SUBSCRIPTION,
                        key=addon.id,
                        company_id=addon.company_id,
                    )
        else:
            self._provision(
                u,
                sub,
                EnableAddon(
                    service_id=sub.service_id, addon_code=sub.product_code, subscription_id=sub.id
                ),
            )

    async def _is_unpaid(self, u: Unit, invoice_id: UUID) -> bool:
        invoice = await repo.get(u.session, Invoice, invoice_id)
        return invoice is not None and invoice.status in UNPAID

    async def _change_paid(self, u: Unit, invoice: Invoice) -> None:
        purpose = invoice.purpose
        sub = await repo.get(u.session, Subscription, UUID(purpose["subscription_id"]), lock=True)
        if sub is None or sub.status not in LIVE or sub.product_code != purpose["from_code"]:
            await self._to_credit(u, invoice, invoice.subtotal, payment_id=None, why="change moot")
            return
        to = await repo.get(u.session, Product, purpose["to_code"])
        assert to is not None
        await self._apply_change(u, sub, to, int(purpose["price"]), int(purpose["proration"]))

    # ==== subscriptions ==============================================================================

    async def _subscription(
        self, u: Unit, subscription_id: UUID, *, company_id: UUID | None, actor: Actor
    ) -> Subscription:
        sub = await repo.get(u.session, Subscription, subscription_id, lock=True)
        if sub is None or (company_id is None and not is_staff(actor)):
            raise subscription_not_found()
        if company_id is not None and sub.company_id != company_id:
            raise subscription_not_found()
        return sub

    async def purchase_addon(
        self, u: Unit, *, company_id: UUID | None, actor: Actor, purchase: msg.PurchaseAddon
    ) -> None:
        """Buy an add-on for a running service: an invoice now, the add-on when paid."""
        parent = await self._subscription(
            u, purchase.service_subscription_id, company_id=company_id, actor=actor
        )
        if parent.kind != ProductKind.PLAN:
            raise InvalidInput(
                "Adicionais pertencem a um serviço (assinatura de plano) / "
                "add-ons belong to a service (a plan subscription)"
            )
        if parent.status != SubscriptionStatus.ACTIVE or parent.cancel_at_period_end:
            raise InvalidState(
                "O serviço não está ativo; regularize-o antes de comprar adicionais / "
                "the service is not active; settle it before buying add-ons"
            )
        addon = await self._product(u, purchase.addon_code, ProductKind.ADDON)
        if await repo.addon_on_service(u.session, parent.service_id, addon.code):
            return  # already bought (or waiting for payment): never twice
        cycle = _addon_cycle(addon, purchase.cycle, BillingCycle(parent.cycle))
        price = price_for(addon.prices, cycle, code=addon.code)
        _same_currency(price, parent.currency, addon.code)
        sub = self._new_subscription(
            company_id=parent.company_id,
            product=addon,
            cycle=cycle,
            price=price,
            service_id=parent.service_id,
            domain=parent.domain,
            parent_id=parent.id,
            now=u.now,
        )
        u.session.add(sub)
        await u.session.flush()
        await self._issue(
            u,
            invoice_id=new_id(),
            company_id=parent.company_id,
            kind=InvoiceKind.ADDON,
            currency=price["currency"],
            lines=_lines_for(addon, cycle, price, sub.id),
            due_at=u.now + timedelta(days=self.settings.order_due_days),
        )

    async def change_subscription(
        self, u: Unit, *, company_id: UUID | None, actor: Actor, change: msg.ChangeSubscription
    ) -> None:
        """Upgrade (pay the prorated difference now; the change applies when
        paid) or downgrade (applies now; the difference becomes credit)."""
        sub = await self._subscription(
            u, change.subscription_id, company_id=company_id, actor=actor
        )
        if sub.status != SubscriptionStatus.ACTIVE:
            raise InvalidState(
                f"A assinatura está {sub.status}; só assinaturas ativas mudam de plano / "
                f"the subscription is {sub.status}; only active ones can change"
            )
        if sub.cycle == BillingCycle.ONE_TIME or sub.period_start is None or sub.period_end is None:
            raise InvalidInput("Itens avulsos não mudam de plano / one-time items cannot change")
        if change.cycle is not None and change.cycle.value != sub.cycle:
            raise InvalidInput(
                "Mudar o ciclo não é feito no meio do período: cancele ao fim do período e "
                "contrate no novo ciclo / cycles cannot change mid-period: cancel at period end "
                "and subscribe on the new cycle"
            )
        to = await self._product(u, change.to_code, ProductKind(sub.kind))
        if to.code == sub.product_code:
            return
        price = price_for(to.prices, BillingCycle(sub.cycle), code=to.code)
        _same_currency(price, sub.currency, to.code)
        if sub.renewal_invoice_id is not None:
            raise InvalidState(
                "Há uma fatura de renovação em aberto; pague-a antes de mudar de plano / "
                "a renewal invoice is open; pay it before changing plans"
            )
        proration = prorate(
            old_price=sub.price,
            new_price=price["amount"],
            period_start=sub.period_start,
            period_end=sub.period_end,
            at=u.now,
        )
        if proration.net <= 0:
            if proration.net < 0:
                await repo.move_credit(
                    u.session,
                    company_id=sub.company_id,
                    currency=sub.currency,
                    amount=-proration.net,
                    reason=f"Mudança de {sub.product_code} para {to.code}: tempo não usado / unused time",
                    now=u.now,
                )
            await self._apply_change(u, sub, to, price["amount"], proration.net)
            return
        old = await repo.get(u.session, Product, sub.product_code)
        left = f"{proration.period_days - proration.used_days}/{proration.period_days} dias"
        await self._issue(
            u,
            invoice_id=new_id(),
            company_id=sub.company_id,
            kind=InvoiceKind.CHANGE,
            currency=sub.currency,
            lines=[
                LineSpec(
                    f"{to.name}: {left} restantes do período / rest of the period",
                    proration.remaining_charge,
                    product_code=to.code,
                    subscription_id=sub.id,
                    period_start=u.now,
                    period_end=sub.period_end,
                ),
                LineSpec(
                    f"Crédito de {old.name if old else sub.product_code}: {left} não usados / unused",
                    -proration.unused_credit,
                    product_code=sub.product_code,
                    subscription_id=sub.id,
                    period_start=u.now,
                    period_end=sub.period_end,
                ),
            ],
            due_at=u.now + timedelta(days=self.settings.change_due_days),
            purpose={
                "subscription_id": str(sub.id),
                "from_code": sub.product_code,
                "to_code": to.code,
                "price": price["amount"],
                "proration": proration.net,
            },
        )

    async def _apply_change(
        self, u: Unit, sub: Subscription, to: Product, price: int, proration: int
    ) -> None:
        from_code = sub.product_code
        sub.product_code, sub.price, sub.updated_at = to.code, price, u.now
        u.emit(
            msg.SubscriptionChanged(
                subscription_id=sub.id,
                from_code=from_code,
                to_code=to.code,
                cycle=BillingCycle(sub.cycle),
                proration=money(proration, sub.currency),
                effective_at=u.now,
            ),
            topic=BILLING_SUBSCRIPTION,
            key=sub.id,
            company_id=sub.company_id,
        )
        if sub.kind == ProductKind.PLAN:
            assert to.whm_package
            self._provision(
                u,
                sub,
                ChangePackage(
                    service_id=sub.service_id, plan_code=to.code, whm_package=to.whm_package
                ),
            )
        else:
            self._provision(
                u,
                sub,
                ChangeAddon(
                    service_id=sub.service_id,
                    from_code=from_code,
                    to_code=to.code,
                    subscription_id=sub.id,
                ),
            )

    async def cancel_subscription(
        self, u: Unit, *, company_id: UUID | None, actor: Actor, cancel: msg.CancelSubscription
    ) -> None:
        """Cancel at the end of the paid period (the default) or at once. A plan
        takes its add-ons with it. Unused time is not refunded."""
        sub = await self._subscription(
            u, cancel.subscription_id, company_id=company_id, actor=actor
        )
        reason = cancel.reason or "cancelada pelo cliente / cancelled by the customer"
        if sub.status == SubscriptionStatus.PENDING:
            invoice_id = await self._pending_invoice_of(u, sub)
            if invoice_id is not None:
                invoice = await repo.get(u.session, Invoice, invoice_id, lock=True)
                if invoice is not None and invoice.status in UNPAID:
                    await self._void(u, invoice, reason)
            return
        if sub.status not in LIVE:
            return  # already over
        if cancel.at_period_end and sub.period_end is not None:
            if sub.cancel_at_period_end:
                return
            sub.cancel_at_period_end, sub.cancel_reason, sub.updated_at = True, reason[:500], u.now
            u.emit(
                msg.SubscriptionCancelled(
                    subscription_id=sub.id,
                    at_period_end=True,
                    effective_at=sub.period_end,
                    reason=cancel.reason,
                ),
                topic=BILLING_SUBSCRIPTION,
                key=sub.id,
                company_id=sub.company_id,
            )
            if sub.renewal_invoice_id is not None:
                invoice = await repo.get(u.session, Invoice, sub.renewal_invoice_id, lock=True)
                if invoice is not None and invoice.status in UNPAID:
                    await self._void(u, invoice, reason)
            return
        await self._end(u, sub, SubscriptionStatus.CANCELLED, reason)

    async def _pending_invoice_of(self, u: Unit, sub: Subscription) -> UUID | None:
        if sub.order_id is not None:
            order = await repo.get(u.session, Order, sub.order_id)
            return order.invoice_id if order else None
        row = await u.session.execute(
            sa.select(InvoiceLine.invoice_id).where(InvoiceLine.subscription_id == sub.id).limit(1)
        )
        return row.scalar()

    async def _end(
        self,
        u: Unit,
        sub: Subscription,
        status: SubscriptionStatus,
        reason: str,
        *,
        cascade: bool = False,
    ) -> None:
        """End a live subscription for good: the account is removed (a plan,
        with its add-ons) or the add-on turned off."""
        if sub.status not in LIVE:
            return
        was_cancel_at_end = sub.cancel_at_period_end
        sub.status, sub.ended_at, sub.updated_at = status.value, u.now, u.now
        sub.cancel_reason = reason[:500]
        if status is SubscriptionStatus.TERMINATED:
            event: Payload = msg.SubscriptionTerminated(subscription_id=sub.id, reason=reason)
        else:
            event = msg.SubscriptionCancelled(
                subscription_id=sub.id,
                at_period_end=was_cancel_at_end,
                effective_at=u.now,
                reason=reason,
            )
        u.emit(event, topic=BILLING_SUBSCRIPTION, key=sub.id, company_id=sub.company_id)
        if sub.kind == ProductKind.PLAN:
            self._provision(u, sub, TerminateAccount(service_id=sub.service_id, reason=reason))
            for addon in await repo.addons_of(u.session, sub.id):
                if addon.status == SubscriptionStatus.PENDING:
                    self._drop_pending(u, addon)
                else:
                    await self._end(u, addon, status, reason, cascade=True)
        elif not cascade:
            self._provision(
                u,
                sub,
                DisableAddon(
                    service_id=sub.service_id, addon_code=sub.product_code, subscription_id=sub.id
                ),
            )
        if sub.renewal_invoice_id is not None:
            invoice = await repo.get(u.session, Invoice, sub.renewal_invoice_id, lock=True)
            sub.renewal_invoice_id = None
            if invoice is not None and invoice.status in UNPAID:
                await self._void(u, invoice, reason)

    async def end_cancelled(self, now: datetime, *, batch: int = 200) -> int:
        """Subscriptions cancelled at period end whose period is over end now."""
        async with self.db.transaction() as session:
            u = Unit(session, now)
            due = await repo.subscriptions_to_end(session, now, batch)
            for sub in due:
                await self._end(
                    u,
                    sub,
                    SubscriptionStatus.CANCELLED,
                    sub.cancel_reason or "cancelada ao fim do período / cancelled at period end",
                )
        return len(due)

    # ==== renewals ==================================================================================

    async def renew_due(self, now: datetime, *, batch: int = 500) -> int:
        """Issue the renewal invoices of every subscription whose period ends
        within the lead time: one invoice per service and due date, the plan
        and its add-ons together. Returns how many subscriptions were renewed."""
        until = now + timedelta(days=self.settings.renewal_lead_days)
        done, after = 0, None
        while True:
            async with self.db.transaction() as session:
                count, after, more = await self._renew_batch(
                    Unit(session, now), until, batch, after
                )
            done += count
            if not more:
                return done

    async def _renew_batch(
        self, u: Unit, until: datetime, batch: int, after: UUID | None
    ) -> tuple[int, UUID | None, bool]:
        """One transaction of a renewal run: returns how many subscriptions it
        renewed, the last service it covered, and whether there may be more."""
        session = u.session
        statement = repo.renewal_candidates_statement(until, batch, after)
        rows = list((await session.execute(statement)).all())
        more = len(rows) == batch
        if more and rows[0].service_id != rows[-1].service_id:
            # the page may have cut a service in two: its rest comes with the next page
            last = rows[-1].service_id
            rows = [row for row in rows if row.service_id != last]
        if not rows:
            return 0, after, more
        groups: dict[tuple[UUID, UUID, datetime, str], list[Any]] = defaultdict(list)
        for row in rows:
            groups[(row.company_id, row.service_id, row.period_end, row.currency)].append(row)
        names = await self._product_names(u, {row.product_code for row in rows})
        companies = sorted({row.company_id for row in rows})
        credit = {
            (c.company_id, c.currency): c.amount
            for c in (
                await session.execute(
                    sa.select(CreditBalance)
                    .where(
                        CreditBalance.company_id.in_(companies),  # type: ignore[attr-defined]
                        CreditBalance.amount > 0,  # type: ignore[operator]
                    )
                    .with_for_update()
                )
            ).scalars()
        }
        series = str(u.now.year)
        first = await repo.take_numbers(session, series, len(groups))
        invoices: list[dict[str, Any]] = []
        lines: list[dict[str, Any]] = []
        links: list[dict[str, Any]] = []
        paid_now: list[tuple[UUID, int]] = []
        for i, ((company_id, _service, due_at, currency), subs) in enumerate(groups.items()):
            invoice_id, number = new_id(), invoice_number(series, first + i)
            subs.sort(key=lambda s: (s.kind != ProductKind.PLAN.value, s.product_code))
            specs = []
            for sub in subs:
                cycle = BillingCycle(sub.cycle)
                next_end = period_end(sub.anchor_at, cycle, sub.period_number + 1)
                specs.append(
                    LineSpec(
                        f"{names.get(sub.product_code, sub.product_code)} — {CYCLE_PT[cycle]}, "
                        f"{sub.period_end:%d/%m/%Y} a {next_end:%d/%m/%Y}"
                        + (f" ({sub.domain})" if sub.domain else ""),
                        sub.price,
                        product_code=sub.product_code,
                        subscription_id=sub.id,
                        period_start=sub.period_end,
                        period_end=next_end,
                    )
                )
                links.append({"b_id": sub.id, "b_invoice": invoice_id})
            sums = totals(
                [s.amount for s in specs], credit_available=credit.get((company_id, currency), 0)
            )
            if sums.credit_applied:
                credit[(company_id, currency)] -= sums.credit_applied
                paid_now.append((invoice_id, sums.credit_applied))
            row = {
                "id": invoice_id,
                "company_id": company_id,
                "number": number,
                "kind": InvoiceKind.RENEWAL.value,
                "status": InvoiceStatus.OPEN.value,
                "currency": currency,
                "subtotal": sums.subtotal,
                "credit_applied": sums.credit_applied,
                "total": sums.total,
                "amount_paid": 0,
                "amount_refunded": 0,
                "due_at": due_at,
                "issued_at": u.now,
                "order_id": None,
                "purpose": {},
                "created_at": u.now,
                "updated_at": u.now,
            }
            invoices.append(row)
            lines += [
                {
                    "invoice_id": invoice_id,
                    "position": p,
                    "description": s.description[:500],
                    "quantity": s.quantity,
                    "unit_amount": s.unit_amount,
                    "amount": s.amount,
                    "product_code": s.product_code,
                    "subscription_id": s.subscription_id,
                    "period_start": s.period_start,
                    "period_end": s.period_end,
                }
                for p, s in enumerate(specs)
            ]
            self._announce_issued(u, InvoiceFacts(**row), specs)
        await session.execute(sa.insert(Invoice), invoices)
        await session.execute(sa.insert(InvoiceLine), lines)
        table = Subscription.__table__  # type: ignore[attr-defined]
        await session.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("b_id"))
            .values(renewal_invoice_id=sa.bindparam("b_invoice"), updated_at=u.now),
            links,
        )
        for invoice_id, used in paid_now:
            invoice_row = await repo.get(session, Invoice, invoice_id, lock=True)
            assert invoice_row is not None
            await repo.move_credit(
                session,
                company_id=invoice_row.company_id,
                currency=invoice_row.currency,
                amount=-used,
                reason=f"Crédito usado na fatura {invoice_row.number} / credit used",
                now=u.now,
                invoice_id=invoice_id,
            )
            if invoice_row.total == 0:
                await self._mark_paid(u, invoice_row, payment_id=None)
        return len(rows), rows[-1].service_id, more

    async def _product_names(self, u: Unit, codes: set[str]) -> dict[str, str]:
        rows = await u.session.execute(
            sa.select(Product.code, Product.name).where(Product.code.in_(codes))  # type: ignore[attr-defined]
        )
        return dict(rows.tuples().all())

    # ==== dunning ====================================================================================

    async def run_dunning(self, now: datetime, *, batch: int = 200) -> int:
        """Walk every unpaid invoice through its dunning timeline. Each step
        runs once (a row per invoice and step, written with its effects)."""
        policy = self.policy
        ahead = max((*policy.remind_before, policy.charge_before, 0))
        until = now + timedelta(days=ahead)
        after: tuple[datetime, UUID] | None = None
        steps_run = 0
        while True:
            async with self.db.transaction() as session:
                u = Unit(session, now)
                page = await repo.unpaid_invoices_due(
                    session, until=until, after=after, limit=batch
                )
                if not page:
                    return steps_run
                done = await repo.steps_done(session, [i.id for i in page])
                cards = await self._saved_cards(session, {i.company_id for i in page})
                for invoice in page:
                    steps = dunning_steps(
                        due_at=invoice.due_at,
                        issued_at=invoice.issued_at or invoice.created_at,
                        now=now,
                        done=done[invoice.id],
                        policy=policy,
                        has_service=invoice.kind == InvoiceKind.RENEWAL,
                        auto_charge=invoice.company_id in cards and self.stripe is not None,
                    )
                    told = [
                        s for s in steps if s.action in ("remind-before", "overdue", "remind-after")
                    ]
                    for step in steps:
                        if invoice.status not in UNPAID:
                            break
                        if await repo.claim_step(session, invoice.id, step.name, now):
                            steps_run += 1
                            await self._dunning_step(
                                u, invoice, step, tell=bool(told) and step is told[-1]
                            )
                after = (page[-1].due_at, page[-1].id)
            if len(page) < batch:
                return steps_run

    async def _saved_cards(self, session: AsyncSession, companies: set[UUID]) -> set[UUID]:
        rows = await session.execute(
            sa.select(Account.company_id).where(
                Account.company_id.in_(companies),  # type: ignore[attr-defined]
                Account.default_payment_method.is_not(None),  # type: ignore[union-attr]
            )
        )
        return set(rows.scalars())

    async def _dunning_step(
        self, u: Unit, invoice: Invoice, step: DunningStep, *, tell: bool
    ) -> None:
        data = _invoice_data(invoice)
        if step.action == "auto-charge":
            account = await repo.account(u.session, invoice.company_id, u.now)
            attempts = await repo.open_attempts(u.session, invoice.id)
            if account.default_payment_method and not any(a.provider == "stripe" for a in attempts):
                await self._start_stripe(
                    u,
                    invoice,
                    invoice.total - invoice.amount_paid,
                    "card",
                    account.default_payment_method,
                    off_session=True,
                )
        elif step.action == "remind-before":
            if tell:
                u.notify(
                    "invoice-issued",
                    company_id=invoice.company_id,
                    data={**data, "reminder": True, "days_until_due": step.days},
                )
        elif step.action in ("overdue", "remind-after"):
            if step.action == "overdue" and invoice.status == InvoiceStatus.OPEN:
                invoice.status = transition(invoice.status, InvoiceStatus.OVERDUE).value
                invoice.updated_at = u.now
            u.emit(
                msg.InvoiceOverdue(
                    invoice_id=invoice.id,
                    number=invoice.number or "",
                    due_at=invoice.due_at,
                    days_overdue=step.days,
                    amount_due=money(invoice.total - invoice.amount_paid, invoice.currency),
                ),
                topic=BILLING_INVOICE,
                key=invoice.id,
                company_id=invoice.company_id,
            )
            if tell:
                u.notify(
                    "invoice-overdue",
                    company_id=invoice.company_id,
                    data={**data, "days_overdue": step.days},
                )
        elif step.action == "suspend":
            await self._suspend(u, invoice, step.days)
        elif step.action == "terminate":
            reason = (
                f"Fatura {invoice.number} não paga em {step.days} dias / "
                f"invoice unpaid for {step.days} days"
            )
            subs = await self._subs_on(u, invoice)
            plans = {s.id for s in subs if s.kind == ProductKind.PLAN}
            for sub in subs:
                if sub.parent_id not in plans:  # add-ons of a plan end with it
                    await self._end(u, sub, SubscriptionStatus.TERMINATED, reason)
            if invoice.status in UNPAID:
                await self._void(u, invoice, reason)
        elif step.action == "expire":
            await self._void(
                u,
                invoice,
                f"Não paga em {step.days} dias / unpaid for {step.days} days",
            )

    async def _suspend(self, u: Unit, invoice: Invoice, days: int) -> None:
        reason = f"Fatura {invoice.number} vencida há {days} dias / invoice overdue for {days} days"
        subs = await self._subs_on(u, invoice)
        plan_ids = {s.id for s in subs if s.kind == ProductKind.PLAN}
        suspended = False
        for sub in subs:
            if sub.status != SubscriptionStatus.ACTIVE:
                continue
            if sub.parent_id in plan_ids:
                continue  # handled with its plan
            await self._suspend_one(u, sub, reason)
            suspended = True
        if suspended:
            u.notify(
                "service-suspended",
                company_id=invoice.company_id,
                data={**_invoice_data(invoice), "days_overdue": days},
            )

    async def _suspend_one(self, u: Unit, sub: Subscription, reason: str) -> None:
        sub.status, sub.updated_at = SubscriptionStatus.SUSPENDED.value, u.now
        u.emit(
            msg.SubscriptionSuspended(subscription_id=sub.id, reason=reason),
            topic=BILLING_SUBSCRIPTION,
            key=sub.id,
            company_id=sub.company_id,
        )
        if sub.kind == ProductKind.PLAN:
            self._provision(u, sub, SuspendAccount(service_id=sub.service_id, reason=reason))
            for addon in await repo.addons_of(
                u.session, sub.id, statuses=[SubscriptionStatus.ACTIVE.value]
            ):
                addon.status, addon.updated_at = SubscriptionStatus.SUSPENDED.value, u.now
                u.emit(
                    msg.SubscriptionSuspended(subscription_id=addon.id, reason=reason),
                    topic=BILLING_SUBSCRIPTION,
                    key=addon.id,
                    company_id=addon.company_id,
                )
        else:
            self._provision(
                u,
                sub,
                DisableAddon(
                    service_id=sub.service_id, addon_code=sub.product_code, subscription_id=sub.id
                ),
            )

    # ==== the clock ==================================================================================

    async def tick(self) -> dict[str, int]:
        """One pass of the clock-driven work. Safe to run in several billing
        processes at once: each piece claims its rows and each step once."""
        now = self.clock.now()
        figures: dict[str, int] = {}
        for name, work in (
            ("ended", self.end_cancelled),
            ("renewed", self.renew_due),
            ("dunning_steps", self.run_dunning),
            ("pix_expired", self.expire_pix),
        ):
            try:
                figures[name] = await work(now)
            except Exception:
                log.exception("billing clock work %s failed; will try again", name)
        return figures


# --- helpers ---------------------------------------------------------------------------------------


def _price_row(price: msg.Price) -> dict[str, Any]:
    if price.setup_fee is not None and price.setup_fee.currency != price.amount.currency:
        raise InvalidInput("A taxa de instalação deve ter a moeda do preço / setup fee currency")
    return {
        "cycle": price.cycle.value,
        "amount": price.amount.amount,
        "currency": price.amount.currency,
        "setup_fee": price.setup_fee.amount if price.setup_fee is not None else 0,
    }


def _published(product: Product) -> msg.CatalogItemPublished:
    return msg.CatalogItemPublished(
        code=product.code,
        kind=ProductKind(product.kind),
        name=product.name,
        description=product.description,
        recurring=product.recurring,
        prices=tuple(
            msg.Price(
                cycle=BillingCycle(p["cycle"]),
                amount=money(p["amount"], p["currency"]),
                setup_fee=money(p["setup_fee"], p["currency"]) if p.get("setup_fee") else None,
            )
            for p in product.prices
        ),
        whm_package=product.whm_package,
        active=product.active,
    )


def _addon_cycle(
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


def _same_currency(price: dict[str, Any], currency: str, code: str) -> None:
    if price["currency"] != currency:
        raise InvalidInput(
            f"{code} é cobrado em {price['currency']}, o pedido em {currency}; uma fatura tem uma "
            f"só moeda / {code} is priced in {price['currency']}, the order in {currency}"
        )


def _lines_for(
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


def _invoice_data(invoice: Invoice | InvoiceFacts) -> dict[str, Any]:
    due = invoice.total - invoice.amount_paid
    return {
        "invoice_id": str(invoice.id),
        "number": invoice.number,
        "amount": invoice.total,
        "amount_due": due,
        "currency": invoice.currency,
        "amount_text": format_money(
            due if invoice.status in UNPAID else invoice.total, invoice.currency
        ),
        "due_at": invoice.due_at.isoformat(),
        "kind": invoice.kind,
    }


def _next_action(action: dict[str, Any]) -> dict[str, Any]:
    """What the customer must do next, from a PaymentIntent's ``next_action``
    (never anything secret)."""
    kind = action.get("type")
    if kind == "pix_display_qr_code":
        pix = action.get("pix_display_qr_code") or {}
        expires = pix.get("expires_at")
        return {
            "type": "pix_stripe",
            "copy_paste": pix.get("data"),
            "image_url_png": pix.get("image_url_png"),
            "hosted_instructions_url": pix.get("hosted_instructions_url"),
            "expires_at": datetime.fromtimestamp(int(expires), tz=UTC).isoformat()
            if expires
            else None,
        }
    if kind == "redirect_to_url":
        return {"type": "redirect", "url": (action.get("redirect_to_url") or {}).get("url")}
    return {"type": str(kind)}


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None
