"""The clock-driven work: renewal invoices ahead of the due date, and the
dunning timeline (automatic charge, reminders, overdue, suspension,
termination). Safe with several billing processes: rows are claimed with
``SKIP LOCKED`` and each dunning step is a row of its own."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.billing import repository as repo
from hospeda.billing.domain import (
    UNPAID,
    DunningStep,
    InvoiceKind,
    InvoiceStatus,
    SubscriptionStatus,
    dunning_steps,
    invoice_number,
    period_end,
    totals,
    transition,
)
from hospeda.billing.models import (
    Account,
    CreditBalance,
    Invoice,
    InvoiceLine,
    Product,
    Subscription,
)
from hospeda.billing.service.core import (
    CYCLE_PT,
    BillingCore,
    InvoiceFacts,
    LineSpec,
    Unit,
    money,
)
from hospeda.contracts import billing as msg
from hospeda.contracts import new_id
from hospeda.contracts.billing import BillingCycle, ProductKind
from hospeda.contracts.provisioning import (
    DisableAddon,
    SuspendAccount,
)
from hospeda.contracts.topics import (
    BILLING_INVOICE,
    BILLING_SUBSCRIPTION,
)

log = logging.getLogger(__name__)


class RenewalUseCases(BillingCore):
    """Renewal runs and the dunning timeline, driven by the clock."""

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
            invoice: dict[str, Any] = {
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
            invoices.append(invoice)
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
            self._announce_issued(u, InvoiceFacts(**invoice), specs)
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
        return {code: name for code, name in rows}

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
        data = self._notice(invoice)
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
            domains = ", ".join(sorted({s.domain for s in subs if s.domain}))
            u.notify(
                "service-suspended",
                company_id=invoice.company_id,
                data=self._notice(invoice, days_overdue=days, domain=domains, reason=reason),
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
