"""Pix settled by the platform, through a PSP's API Pix.

An invoice paid by Pix gets a charge (``cob``) at the PSP, made by the
``pix-charge`` job; the customer sees its dynamic BR Code. What the PSP
received reaches ``receive_pix`` from its webhook or, when a webhook was
lost, from the periodic reconciliation — both by ``endToEndId``, so a Pix is
taken into account once however often it is reported.

A Pix applies to its invoice when it covers what is still due. Money nobody
asked for — a second Pix for the same charge, one for an invoice already
settled or voided, one for less than what is due, or the part of one above
it — follows ``BILLING_PIX_SURPLUS_POLICY``: given back to the payer by the
PSP (``refund``; a failed return is kept as credit, never lost) or kept as
account credit and used on what the invoice still owes (``credit``). Staff
are alerted and the customer told either way; a Pix on no charge of ours is
left for staff (``unmatched``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from hospeda.billing import repository as repo
from hospeda.billing.adapters.pix_psp import RETURN_FINAL, PixCharge, PixReceived
from hospeda.billing.domain import UNPAID
from hospeda.billing.models import Invoice, Payment, PixReceipt
from hospeda.billing.pix import build_location
from hospeda.billing.service.core import SERVICE, Unit
from hospeda.billing.service.payments import PSP, PaymentUseCases
from hospeda.contracts import new_id
from hospeda.contracts.ops import OperatorAlertRaised, Severity
from hospeda.contracts.topics import OPS_ALERT

log = logging.getLogger(__name__)


def return_id_of(end_to_end_id: str) -> str:
    """The id of the return of a surplus Pix: one per Pix (``[a-zA-Z0-9]{1,35}``)."""
    return f"D{end_to_end_id}"


class PixUseCases(PaymentUseCases):
    """Charges at the PSP, Pix received, and what is given back."""

    async def record_charge(self, u: Unit, payment_id: UUID, charge: PixCharge) -> None:
        """The PSP made the charge: show its code (it carries the PSP's location)."""
        payment = await repo.get(u.session, Payment, payment_id, lock=True)
        if payment is None or payment.status != "pending":
            return
        if charge.status != "ATIVA" or charge.amount != payment.amount:
            await self.apply_failure(
                u,
                payment.id,
                code="pix_charge",
                reason=(
                    f"O PSP não aceitou a cobrança Pix ({charge.status}) / "
                    f"the PSP did not take the Pix charge"
                ),
            )
            return
        code = charge.copy_paste or build_location(
            location=charge.location,
            merchant_name=self.settings.pix_merchant_name,
            merchant_city=self.settings.pix_merchant_city,
        )
        payment.status, payment.updated_at = "requires_action", u.now
        payment.next_action = {
            "type": "pix_br_code",
            "copy_paste": code,
            "txid": charge.txid,
            "location": charge.location,
        }

    # --- what the PSP received ----------------------------------------------------------------

    async def receive_pix(self, u: Unit, pix: PixReceived) -> bool:
        """A Pix the PSP says we received. Taken into account once (by its
        ``endToEndId``); returns whether it was new."""
        receipt = await repo.claim_pix_receipt(
            u.session,
            {
                "end_to_end_id": pix.end_to_end_id,
                "txid": pix.txid,
                "amount": pix.amount,
                "received_at": pix.paid_at,
                "outcome": "received",
                "note": "",
                "recorded_at": u.now,
                "return_amount": 0,
                "return_status": "",
            },
        )
        if receipt is None:
            await self._returns_reported(u, pix)
            return False
        payment = (
            await repo.payment_by_reference(u.session, pix.txid, lock=True) if pix.txid else None
        )
        if payment is None or payment.provider != PSP:
            receipt.outcome = "unmatched"
            receipt.note = "Nenhuma cobrança nossa com este txid / no charge of ours has this txid"
            self._pix_alert(
                u,
                Severity.CRITICAL,
                f"Pix {pix.end_to_end_id} de {_brl(pix.amount)} sem cobrança conhecida "
                f"(txid {pix.txid or '—'}) / a Pix on no charge of ours",
                receipt,
            )
            return True
        receipt.payment_id, receipt.company_id = payment.id, payment.company_id
        invoice = await repo.get(u.session, Invoice, payment.invoice_id, lock=True)
        assert invoice is not None
        first = payment.status != "succeeded"
        due = invoice.total - invoice.amount_paid if invoice.status in UNPAID else 0
        if first and 0 < due <= pix.amount:
            await self.apply_success(u, payment.id, amount=due)
            receipt.outcome = "applied"
            surplus, why = pix.amount - due, "acima do valor da fatura / above what was due"
        elif not first:
            surplus, why = pix.amount, "segundo Pix da mesma cobrança / paid twice"
        elif due == 0:
            surplus, why = pix.amount, "fatura já quitada ou cancelada / invoice already settled"
        else:
            surplus, why = pix.amount, "abaixo do valor da fatura / less than what was due"
            await self.apply_failure(  # this code is spent: the customer needs a new one
                u,
                payment.id,
                code="pix_underpaid",
                reason=f"O Pix recebido ({_brl(pix.amount)}) é menor que o valor da fatura / "
                "the Pix received is less than what was due",
            )
        if surplus:
            await self._surplus(u, receipt, payment, invoice, surplus, why)
        return True

    async def _surplus(
        self,
        u: Unit,
        receipt: PixReceipt,
        payment: Payment,
        invoice: Invoice,
        amount: int,
        why: str,
    ) -> None:
        applied = receipt.outcome == "applied"
        receipt.note = why[:500]
        if self.settings.pix_surplus_policy == "refund":
            receipt.outcome = "applied+returned" if applied else "returned"
            receipt.return_id = return_id_of(receipt.end_to_end_id)
            receipt.return_amount, receipt.return_status = amount, "pending"
            await self.engine.enqueue(
                u.session,
                "pix-return",
                {"end_to_end_id": receipt.end_to_end_id},
                key=f"pix:{receipt.end_to_end_id}",
                target="pix_psp",
                dedupe_key=f"pix-return:{receipt.end_to_end_id}",
                company_id=payment.company_id,
                cause=u.cause,
            )
            template = "pix-returned"
        else:
            receipt.outcome = "applied+credited" if applied else "credited"
            await self._keep_as_credit(u, receipt, payment, invoice, amount, why)
            template = "pix-credited"
        self._pix_alert(
            u,
            Severity.WARNING,
            f"Pix {receipt.end_to_end_id}: {_brl(amount)} da fatura {invoice.number} "
            f"{'devolvido' if template == 'pix-returned' else 'virou crédito'} ({why})",
            receipt,
        )
        u.notify(
            template,
            company_id=payment.company_id,
            data=self._notice(invoice, amount_cents=amount, currency=payment.currency),
        )

    async def _keep_as_credit(
        self,
        u: Unit,
        receipt: PixReceipt,
        payment: Payment,
        invoice: Invoice,
        amount: int,
        why: str,
    ) -> None:
        await repo.move_credit(
            u.session,
            company_id=payment.company_id,
            currency=payment.currency,
            amount=amount,
            reason=f"Pix {receipt.end_to_end_id} vira crédito ({why})"[:500],
            now=u.now,
            invoice_id=invoice.id,
            payment_id=payment.id,
        )
        if invoice.status in UNPAID and invoice.total > invoice.amount_paid:
            await self._pay_with_credit(u, invoice)

    async def _returns_reported(self, u: Unit, pix: PixReceived) -> None:
        """A Pix reported again may say how its returns ended."""
        for given in pix.returns:
            if given.status in RETURN_FINAL:
                await self.settle_return(u, given.id, status=given.status, reason=given.reason)

    async def settle_return(self, u: Unit, return_id: str, *, status: str, reason: str) -> bool:
        """A return reached its end: ``DEVOLVIDO``, or ``NAO_REALIZADO`` and
        the money stays with us as the customer's credit. Once."""
        receipt = await repo.receipt_by_return(u.session, return_id)
        if receipt is None:
            await self._refund_reported(u, return_id, status=status)
            return False
        if receipt.return_status != "pending":
            return False
        if status == "DEVOLVIDO":
            receipt.return_status = "succeeded"
            return True
        receipt.return_status = "failed"
        receipt.note = f"{receipt.note}; devolução não realizada: {reason}"[:500]
        payment = await repo.get(u.session, Payment, receipt.payment_id, lock=True)
        invoice = (
            await repo.get(u.session, Invoice, payment.invoice_id, lock=True) if payment else None
        )
        if payment is not None and invoice is not None:
            await self._keep_as_credit(
                u, receipt, payment, invoice, receipt.return_amount, "devolução não realizada"
            )
        self._pix_alert(
            u,
            Severity.CRITICAL,
            f"A devolução do Pix {receipt.end_to_end_id} não foi feita ({reason}); "
            f"{_brl(receipt.return_amount)} ficou como crédito / the Pix return failed",
            receipt,
        )
        return True

    async def _refund_reported(self, u: Unit, return_id: str, *, status: str) -> None:
        """A staff refund of a Pix is a return too, named after the refund."""
        try:
            refund_id = UUID(hex=return_id)
        except ValueError:
            return
        await self.settle_refund(
            u,
            refund_id,
            status="succeeded" if status == "DEVOLVIDO" else "failed",
            reference=return_id,
        )

    async def schedule_pix_reconcile(self, now: datetime) -> int:
        """Once per ``BILLING_PIX_RECONCILE_EVERY_S``: list what the PSP received."""
        if self.pix_psp is None:
            return 0
        bucket = int(now.timestamp() // self.settings.pix_reconcile_every_s)
        async with self.db.transaction() as session:
            queued = await self.engine.enqueue(
                session,
                "pix-reconcile",
                {"window_s": self.settings.pix_reconcile_window_s},
                key="pix-reconcile",
                target="pix_psp",
                dedupe_key=f"pix-reconcile:{bucket}",
            )
        return 1 if queued else 0

    def _pix_alert(self, u: Unit, severity: Severity, summary: str, receipt: PixReceipt) -> None:
        u.emit(
            OperatorAlertRaised(
                alert_id=new_id(),
                severity=severity,
                source=SERVICE,
                summary=summary[:500],
                details=_receipt_facts(receipt),
            ),
            topic=OPS_ALERT,
            key=SERVICE,
            company_id=receipt.company_id,
        )


def reconcile_window(window_s: int) -> tuple[datetime, datetime]:
    """The PSP's own period (its clock is the wall clock, not the business one)."""
    end = datetime.now(UTC)
    return end - timedelta(seconds=window_s), end


def _receipt_facts(receipt: PixReceipt) -> dict[str, Any]:
    return {
        "end_to_end_id": receipt.end_to_end_id,
        "txid": receipt.txid,
        "amount_cents": receipt.amount,
        "payment_id": str(receipt.payment_id) if receipt.payment_id else None,
        "outcome": receipt.outcome,
    }


def _brl(cents: int) -> str:
    return f"R$ {cents // 100},{cents % 100:02d}"
