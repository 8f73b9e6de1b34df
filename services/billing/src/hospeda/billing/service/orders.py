"""Orders (a plan for a domain, with add-ons) and cancelling unpaid invoices."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from hospeda.billing import repository as repo
from hospeda.billing.domain import (
    InvalidInput,
    InvalidState,
    InvoiceKind,
    InvoiceStatus,
    check_email,
    normalise_domain,
    price_for,
)
from hospeda.billing.models import (
    Order,
)
from hospeda.billing.service.core import (
    BillingCore,
    Unit,
    addon_cycle,
    lines_for,
    money,
    require_company,
    same_currency,
)
from hospeda.contracts import Actor, new_id
from hospeda.contracts import billing as msg
from hospeda.contracts.billing import BillingCycle, ProductKind
from hospeda.contracts.topics import (
    BILLING_ORDER,
)


class OrderUseCases(BillingCore):
    """Orders become pending subscriptions and an invoice; unpaid invoices can be voided."""

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
        await self._check_domain_free(u, company_id, domain)
        waiting = await repo.open_order_for(u.session, company_id, domain, u.now)
        if waiting is not None:
            raise InvalidState(
                f"Você já tem um pedido em aberto para {domain} (fatura {waiting.number}): "
                f"pague-o ou anule a fatura / you already have an open order for {domain} "
                f"(invoice {waiting.number}): pay it or void the invoice"
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
        subs, lines = [plan_sub], lines_for(plan, order.cycle, plan_price, plan_sub.id)
        seen: set[str] = set()
        for choice in order.addons:
            if choice.code in seen:
                raise InvalidInput(
                    f"Adicional repetido: {choice.code} / add-on listed twice: {choice.code}"
                )
            seen.add(choice.code)
            addon = await self._product(u, choice.code, ProductKind.ADDON)
            cycle = addon_cycle(addon, choice.cycle, order.cycle)
            price = price_for(addon.prices, cycle, code=addon.code)
            same_currency(price, currency, addon.code)
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
            lines += lines_for(addon, cycle, price, sub.id)
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
