"""Subscriptions: activation when paid, add-ons bought later, upgrades and
downgrades with proration, cancellation and the end of a service."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

import sqlalchemy as sa

from hospeda.billing import repository as repo
from hospeda.billing.domain import (
    LIVE,
    UNPAID,
    InvalidInput,
    InvalidState,
    InvoiceKind,
    SubscriptionStatus,
    addon_charge,
    check_addon_change,
    period_end,
    price_for,
    prorate,
    subscription_not_found,
    subscription_status_text,
)
from hospeda.billing.models import (
    Invoice,
    InvoiceLine,
    Order,
    Product,
    Subscription,
)
from hospeda.billing.service.core import (
    BillingCore,
    LineSpec,
    Unit,
    addon_cycle,
    is_staff,
    lines_for,
    money,
    same_currency,
)
from hospeda.contracts import Actor, Payload, new_id
from hospeda.contracts import billing as msg
from hospeda.contracts.billing import BillingCycle, ProductKind
from hospeda.contracts.provisioning import (
    ChangeAddon,
    ChangePackage,
    CreateAccount,
    DisableAddon,
    EnableAddon,
    TerminateAccount,
    UnsuspendAccount,
)
from hospeda.contracts.topics import (
    BILLING_SUBSCRIPTION,
)


class SubscriptionUseCases(BillingCore):
    """Activation when paid, add-ons, upgrades and downgrades, cancellation, the end."""

    async def _start_paid(self, u: Unit, invoice: Invoice) -> None:
        """A new order or add-on was paid: activate and provision what it bought."""
        if invoice.order_id is not None:
            order = await repo.get(u.session, Order, invoice.order_id, lock=True)
            if order is not None:
                order.status, order.updated_at = "paid", u.now
        paid_for: dict[UUID, int] = defaultdict(int)
        for line in await repo.lines(u.session, invoice.id):
            if line.subscription_id is not None:
                paid_for[line.subscription_id] += line.amount
        subs = await repo.subscriptions_by_id(u.session, sorted(paid_for))
        subs.sort(key=lambda s: s.kind != ProductKind.PLAN.value)  # the account before its add-ons
        for sub in subs:
            if sub.status != SubscriptionStatus.PENDING:
                continue
            if sub.kind == ProductKind.PLAN and sub.domain:
                holder = await repo.domain_holder(u.session, sub.domain)
                if holder is not None:
                    # paid for a domain someone else paid for first: the money stays, as credit
                    await self._domain_lost(u, invoice, sub, paid_for[sub.id])
                    continue
            parent = (
                await repo.get(u.session, Subscription, sub.parent_id) if sub.parent_id else None
            )
            if parent is not None and parent.status not in (*LIVE, SubscriptionStatus.PENDING):
                # the service ended before its add-on was paid: keep the money as credit
                self._drop_pending(u, sub)
                await self._to_credit(
                    u, invoice, paid_for[sub.id], payment_id=None, why="service ended"
                )
                continue
            await self._activate(u, sub)

    async def _domain_lost(self, u: Unit, invoice: Invoice, sub: Subscription, paid: int) -> None:
        self._drop_pending(u, sub)
        sub.cancel_reason = "domínio contratado antes por outra conta / domain taken first"
        await self._to_credit(u, invoice, paid, payment_id=None, why="domain taken")
        product = await repo.get(u.session, Product, sub.product_code)
        u.notify(
            "undelivered-credited",
            company_id=sub.company_id,
            data=self._notice(
                invoice,
                domain=sub.domain,
                product=product.name if product else sub.product_code,
                amount_cents=paid,
            ),
        )

    async def _activate(self, u: Unit, sub: Subscription) -> None:
        cycle = BillingCycle(sub.cycle)
        sub.status, sub.updated_at = SubscriptionStatus.ACTIVE.value, u.now
        sub.anchor_at = sub.period_start = u.now
        sub.period_number = 0
        sub.period_end = period_end(u.now, cycle, 0) if cycle is not BillingCycle.ONE_TIME else None
        line = await repo.last_paid_line(u.session, sub.id) if sub.parent_id else None
        parent = await repo.get(u.session, Subscription, sub.parent_id) if sub.parent_id else None
        if line is not None and line.period_end is not None and parent is not None:
            # bought mid-period and charged up to its service's renewal: it renews with
            # the service from then (paid late, after that renewal: its next period is due)
            sub.period_end, sub.anchor_at = line.period_end, parent.anchor_at
            behind = 1 if line.period_end != parent.period_end else 0
            sub.period_number = parent.period_number - behind
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
        cycle = addon_cycle(addon, purchase.cycle, BillingCycle(parent.cycle))
        price = price_for(addon.prices, cycle, code=addon.code)
        same_currency(price, parent.currency, addon.code)
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
        lines = lines_for(addon, cycle, price, sub.id)
        charge = addon_charge(
            price["amount"],
            same_cycle=cycle.value == parent.cycle,
            period_start=parent.period_start,
            period_end=parent.period_end,
            at=u.now,
        )
        if charge != price["amount"] and parent.period_end is not None:
            # the rest of the service's period; then it renews with the service
            lines[0] = replace(
                lines[0],
                description=f"{lines[0].description}, proporcional até "
                f"{parent.period_end:%d/%m/%Y} / prorated to the next renewal",
                unit_amount=charge,
                period_start=u.now,
                period_end=parent.period_end,
            )
        await self._issue(
            u,
            invoice_id=new_id(),
            company_id=parent.company_id,
            kind=InvoiceKind.ADDON,
            currency=price["currency"],
            lines=lines,
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
                f"Só assinaturas ativas mudam de plano; esta está "
                f"{subscription_status_text(sub.status)} / only active subscriptions can change"
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
        if sub.kind == ProductKind.ADDON:
            current = await repo.get(u.session, Product, sub.product_code)
            check_addon_change(current or to, to)  # never sell what provisioning cannot do
        price = price_for(to.prices, BillingCycle(sub.cycle), code=to.code)
        same_currency(price, sub.currency, to.code)
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
        peek = await repo.get(u.session, Subscription, cancel.subscription_id)
        if peek is not None and peek.renewal_invoice_id is not None:
            # invoice before subscription, the order payments and dunning lock in
            await repo.get(u.session, Invoice, peek.renewal_invoice_id, lock=True)
        sub = await self._subscription(
            u, cancel.subscription_id, company_id=company_id, actor=actor
        )
        reason = cancel.reason or "cancelada pelo cliente / cancelled by the customer"
        if sub.status == SubscriptionStatus.PENDING:
            if sub.order_id is not None and sub.kind == ProductKind.ADDON:
                raise InvalidState(
                    "Este adicional faz parte de um pedido ainda não pago: anule a fatura do "
                    "pedido para desistir dele / this add-on belongs to an unpaid order: void "
                    "the order's invoice instead"
                )
            invoice_id = await self._pending_invoice_of(u, sub)
            if invoice_id is not None:
                invoice = await repo.get(u.session, Invoice, invoice_id, lock=True)
                if invoice is not None and invoice.status in UNPAID:
                    await self._void(u, invoice, reason)
            return
        if sub.status == SubscriptionStatus.PROVISIONING_FAILED:
            # nothing was delivered: it ends now, and what it cost comes back
            await self.cancel_undelivered(u, sub, reason)  # type: ignore[attr-defined]
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
        if sub.status not in (*LIVE, SubscriptionStatus.PROVISIONING_FAILED):
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
