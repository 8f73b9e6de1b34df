"""What billing does with what provisioning reports: a service that was paid for
and could not be delivered is never renewed, dunned or left in silence.

- ``provisioning.service.failed`` for ``create-account`` (a plan) or
  ``enable-addon`` (an add-on): the subscription becomes ``provisioning_failed``
  (``billing.subscription.undelivered``). It is not renewed or dunned and keeps
  its domain; the job engine has alerted an operator and provisioning has told
  the customer.
- ``provisioning.service.activated`` / ``addon.enabled`` afterwards (an operator
  retried the job): active again (``billing.subscription.reactivated``); a plan's
  paid period, and its add-ons' on the same period, move on by the time it was
  down.
- Cancelling it (an operator, or the customer tired of waiting) ends it at once,
  a plan with its add-ons, and gives back what their current period cost, by
  ``BILLING_UNDELIVERED_POLICY``: ``refund`` to the method that paid (what was
  paid with credit goes back as credit) or all of it as ``credit``. The customer
  is told what came back and how.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.billing import repository as repo
from hospeda.billing.domain import SubscriptionStatus
from hospeda.billing.models import Invoice, Product, Subscription
from hospeda.billing.service.core import SYSTEM, BillingCore, Unit, money
from hospeda.contracts import billing as msg
from hospeda.contracts.billing import ProductKind
from hospeda.contracts.provisioning import ServiceProvisioningFailed
from hospeda.contracts.topics import BILLING_SUBSCRIPTION

log = logging.getLogger(__name__)

UNDELIVERED = SubscriptionStatus.PROVISIONING_FAILED
DELIVERING_JOBS = frozenset({"create-account", "enable-addon"})
"""The provisioning jobs that deliver something sold (others change nothing billed)."""


class FulfilmentUseCases(BillingCore):
    """Uses ``_end`` and ``refund_invoice``: ``Billing`` has all."""

    async def provisioning_failed(self, u: Unit, failed: ServiceProvisioningFailed) -> None:
        if failed.job_kind not in DELIVERING_JOBS or (
            failed.job_kind == "enable-addon" and not failed.addon_code
        ):
            return
        addon = failed.addon_code if failed.job_kind == "enable-addon" else None
        sub = await repo.subscription_of_service(u.session, failed.service_id, addon_code=addon)
        if sub is None or sub.status != SubscriptionStatus.ACTIVE:
            return  # not sold here, or already undelivered or over (a redelivery)
        sub.status, sub.undelivered_since, sub.updated_at = UNDELIVERED.value, u.now, u.now
        u.emit(
            msg.SubscriptionUndelivered(
                subscription_id=sub.id,
                service_id=sub.service_id,
                reason=failed.reason[:500],
                job_id=failed.job_id,
            ),
            topic=BILLING_SUBSCRIPTION,
            key=sub.id,
            company_id=sub.company_id,
        )

    async def provisioning_delivered(
        self, u: Unit, service_id: UUID, *, addon_code: str | None = None
    ) -> None:
        sub = await repo.subscription_of_service(u.session, service_id, addon_code=addon_code)
        if sub is None or sub.status != UNDELIVERED:
            return  # the usual case: it was delivered the first time
        down = u.now - (sub.undelivered_since or u.now)
        if sub.kind == ProductKind.PLAN and sub.period_end is not None:
            # the customer paid for a period they could not use: it starts over later
            for addon in await repo.addons_of(
                u.session, sub.id, statuses=[SubscriptionStatus.ACTIVE.value]
            ):
                if addon.period_end == sub.period_end:
                    shift(addon, down, u.now)
            shift(sub, down, u.now)
        sub.status, sub.undelivered_since, sub.updated_at = (
            SubscriptionStatus.ACTIVE.value,
            None,
            u.now,
        )
        u.emit(
            msg.SubscriptionReactivated(subscription_id=sub.id),
            topic=BILLING_SUBSCRIPTION,
            key=sub.id,
            company_id=sub.company_id,
        )

    async def cancel_undelivered(self, u: Unit, sub: Subscription, reason: str) -> None:
        """End an undelivered subscription at once and give back what it cost."""
        owed = await owed_for(u.session, sub)
        await self._end(u, sub, SubscriptionStatus.CANCELLED, reason)
        product = await repo.get(u.session, Product, sub.product_code)
        for invoice_id, amount in owed.items():
            invoice = await repo.get(u.session, Invoice, invoice_id, lock=True)
            assert invoice is not None
            await self._give_back(u, invoice, amount, sub, product.name if product else None)

    async def _give_back(
        self, u: Unit, invoice: Invoice, amount: int, sub: Subscription, product: str | None
    ) -> None:
        refunds = await repo.refunds(u.session, invoice.id)
        held = sum(r.amount for r in refunds if r.status != "failed")
        paid = await repo.payments(u.session, company_id=None, invoice_id=invoice.id)
        refundable = sum(
            p.amount for p in paid if p.status == "succeeded" and p.provider in ("stripe", "pix")
        )
        amount = min(amount, invoice.amount_paid + invoice.credit_applied - held)
        if amount <= 0:
            return  # given back already (a redelivered cancel)
        cash = 0
        if self.settings.undelivered_policy == "refund":
            cash = max(0, min(amount, refundable - held))
        why = (
            f"{sub.product_code} não pôde ser ativado e foi cancelado / "
            f"{sub.product_code} could not be delivered and was cancelled"
        )
        if cash > 0:
            await self.refund_invoice(  # type: ignore[attr-defined]
                u,
                company_id=invoice.company_id,
                actor=SYSTEM,
                invoice_id=invoice.id,
                amount=money(cash, invoice.currency),
                reason=why,
            )
        if amount - cash > 0:
            await repo.move_credit(
                u.session,
                company_id=invoice.company_id,
                currency=invoice.currency,
                amount=amount - cash,
                reason=why,
                now=u.now,
                invoice_id=invoice.id,
            )
        for template, value in (
            ("undelivered-refunded", cash),
            ("undelivered-credited", amount - cash),
        ):
            if value > 0:
                u.notify(
                    template,
                    company_id=invoice.company_id,
                    data=self._notice(
                        invoice,
                        domain=sub.domain,
                        product=product or sub.product_code,
                        amount_cents=value,
                    ),
                )
        log.info(
            "undelivered %s cancelled: %d refunded, %d credited (invoice %s)",
            sub.id,
            cash,
            amount - cash,
            invoice.id,
        )


def shift(sub: Subscription, by: timedelta, now: datetime) -> None:
    """Move a subscription's period (and the anchor its next periods count from) later."""
    assert sub.period_end is not None
    sub.period_end += by
    if sub.anchor_at is not None:
        sub.anchor_at += by
    sub.updated_at = now


async def owed_for(
    session: AsyncSession, sub: Subscription, *, lock: bool = True
) -> dict[UUID, int]:
    """What cancelling undelivered ``sub`` gives back, by invoice: the current
    period's price of it and, for a plan, of the add-ons that end with it. (The
    invoice's refunds so far are taken off when it is given back.)"""
    ending = [sub]
    if sub.kind == ProductKind.PLAN:
        ending += [
            a
            for a in await repo.addons_of(session, sub.id, lock=lock)
            if a.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED, UNDELIVERED)
        ]
    owed: dict[UUID, int] = defaultdict(int)
    for each in ending:
        line = await repo.last_paid_line(session, each.id)
        if line is not None:
            owed[line.invoice_id] += line.amount
    return dict(owed)
