"""Card disputes (chargebacks), as Stripe reports them by webhook.

A dispute is kept on its invoice from the moment it opens; staff are alerted
when it opens and when it closes; the services it paid for follow
``BILLING_DISPUTE_POLICY``: ``keep``, ``suspend_on_open`` (suspended while
disputed, back when won) or ``suspend_on_loss`` (the default). A lost dispute
is recorded with the amount the bank took back."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from hospeda.billing import repository as repo
from hospeda.billing.domain import SubscriptionStatus
from hospeda.billing.models import Dispute, Invoice
from hospeda.billing.service.core import SERVICE, BillingCore, Unit
from hospeda.contracts import new_id
from hospeda.contracts.billing import ProductKind
from hospeda.contracts.ops import OperatorAlertRaised, Severity
from hospeda.contracts.topics import OPS_ALERT

log = logging.getLogger(__name__)

CLOSED = ("won", "lost", "warning_closed")


class DisputeUseCases(BillingCore):
    """Uses ``_suspend_one`` (renewals) and ``_reactivate`` (subscriptions): ``Billing`` has all."""

    async def apply_dispute(self, u: Unit, kind: str, data: dict[str, Any]) -> None:
        """Apply one ``charge.dispute.*`` event (created, updated, closed, funds_*)."""
        payment = await repo.payment_by_reference(
            u.session, str(data.get("payment_intent") or ""), lock=True
        )
        if payment is None:
            log.info("dispute %s is not on one of our payments; ignored", data.get("id"))
            return
        dispute = await repo.dispute_by_reference(u.session, str(data["id"]))
        opened = dispute is None
        if dispute is None:
            dispute = Dispute(
                id=new_id(),
                provider_reference=str(data["id"]),
                company_id=payment.company_id,
                invoice_id=payment.invoice_id,
                payment_id=payment.id,
                amount=int(data["amount"]),
                currency=payment.currency,
                reason=str(data.get("reason") or "general")[:100],
                status=str(data["status"])[:40],
                evidence_due_at=_due(data),
                opened_at=u.now,
            )
            u.session.add(dispute)
        was_closed = dispute.status in CLOSED
        dispute.status = str(data["status"])[:40]
        invoice = await repo.get(u.session, Invoice, payment.invoice_id, lock=True)
        assert invoice is not None
        policy = self.settings.dispute_policy
        if opened:
            self._alert(u, dispute, invoice, opened=True)
            if policy == "suspend_on_open":
                await self._suspend_disputed(u, invoice)
        if dispute.status in CLOSED and not was_closed:
            dispute.closed_at = u.now
            self._alert(u, dispute, invoice, opened=False)
            if dispute.status == "lost" and policy == "suspend_on_loss":
                await self._suspend_disputed(u, invoice)
            elif dispute.status == "won" and policy == "suspend_on_open":
                for sub in await self._subs_on(u, invoice):
                    await self._reactivate(u, sub)  # type: ignore[attr-defined]
        del kind  # every dispute event carries the whole dispute; its status says it all

    async def _suspend_disputed(self, u: Unit, invoice: Invoice) -> None:
        reason = (
            f"Contestação do pagamento da fatura {invoice.number} / "
            f"payment of invoice {invoice.number} disputed"
        )
        subs = await self._subs_on(u, invoice)
        plans = {s.id for s in subs if s.kind == ProductKind.PLAN}
        domains = sorted({s.domain for s in subs if s.domain})
        suspended = False
        for sub in subs:
            if sub.status == SubscriptionStatus.ACTIVE and sub.parent_id not in plans:
                await self._suspend_one(u, sub, reason)  # type: ignore[attr-defined]
                suspended = True
        if suspended:
            u.notify(
                "service-suspended",
                company_id=invoice.company_id,
                data=self._notice(invoice, domain=", ".join(domains), reason=reason),
            )

    def _alert(self, u: Unit, dispute: Dispute, invoice: Invoice, *, opened: bool) -> None:
        money = f"{dispute.amount / 100:.2f} {dispute.currency.upper()}"
        if opened:
            summary = (
                f"Contestação aberta na fatura {invoice.number} ({money}, {dispute.reason}) / "
                f"dispute opened on invoice {invoice.number}"
            )
        else:
            summary = (
                f"Contestação {dispute.status} na fatura {invoice.number} ({money}) / "
                f"dispute {dispute.status} on invoice {invoice.number}"
            )
        lost = dispute.status == "lost"
        u.emit(
            OperatorAlertRaised(
                alert_id=new_id(),
                severity=Severity.CRITICAL if lost or opened else Severity.WARNING,
                source=SERVICE,
                summary=summary,
                details={
                    "dispute": dispute.provider_reference,
                    "invoice_id": str(invoice.id),
                    "payment_id": str(dispute.payment_id),
                    "status": dispute.status,
                    "evidence_due_at": dispute.evidence_due_at.isoformat()
                    if dispute.evidence_due_at
                    else None,
                },
            ),
            topic=OPS_ALERT,
            key=f"dispute:{dispute.provider_reference}",
            company_id=invoice.company_id,
        )


def _due(data: dict[str, Any]) -> datetime | None:
    due = (data.get("evidence_details") or {}).get("due_by")
    return datetime.fromtimestamp(int(due), UTC) if due else None


__all__ = ["DisputeUseCases"]
