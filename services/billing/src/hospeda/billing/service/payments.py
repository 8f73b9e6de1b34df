"""Payments (Stripe card and Pix, direct Pix, credit), Stripe webhooks and refunds.

Every way of learning that money arrived ends in ``apply_success``, which
locks the attempt and applies it once."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from hospeda.billing import repository as repo
from hospeda.billing.domain import (
    UNPAID,
    InvalidInput,
    InvalidState,
    InvoiceStatus,
    check_refund,
    status_text,
    transition,
)
from hospeda.billing.models import (
    Invoice,
    Payment,
    Refund,
)
from hospeda.billing.pix import build_payload, txid_for
from hospeda.billing.service.core import (
    SERVICE,
    BillingCore,
    Unit,
    money,
    require_staff,
)
from hospeda.contracts import Actor, Money, new_id
from hospeda.contracts import billing as msg
from hospeda.contracts.billing import PaymentMethod, ProductKind
from hospeda.contracts.ops import OperatorAlertRaised, Severity
from hospeda.contracts.topics import (
    BILLING_INVOICE,
    BILLING_PAYMENT,
    OPS_ALERT,
)

log = logging.getLogger(__name__)

PSP = "psp"
"""``Payment.provider`` of a Pix charge made at the PSP (its txid is the reference)."""


class PaymentUseCases(BillingCore):
    """Starting payments, applying them exactly once, failures, Stripe events and refunds."""

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
                f"Nada a pagar: a fatura {invoice.number} está {status_text(invoice.status)} / "
                "nothing to pay"
            )
        if invoice.order_id is not None:
            for sub in await repo.pending_of_order(u.session, invoice.order_id):
                if sub.kind == ProductKind.PLAN and sub.domain:
                    await self._check_domain_free(u, sub.company_id, sub.domain)
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
            if not card or not PAYMENT_METHOD_REF.match(card):
                raise InvalidInput(
                    "Informe o cartão: o id pm_… que o Stripe devolveu no navegador / "
                    "give the card: the pm_… id Stripe returned in the browser"
                )
            return await self._start_stripe(u, invoice, due, "card", card, off_session=False)
        same = [
            a
            for a in attempts
            if a.method == method.value and (a.expires_at is None or a.expires_at > u.now)
        ]
        if same:
            return None  # the Pix code already shown is still good
        if method is PaymentMethod.PIX_STRIPE:
            return await self._start_stripe(u, invoice, due, "pix", None, off_session=False)
        if self.pix_psp is not None:
            payment = self._psp_pix(u, invoice, due)
            await self._enqueue_charge(u, payment)
            return payment
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

    def _psp_pix(self, u: Unit, invoice: Invoice, amount: int) -> Payment:
        """A Pix charge for ``amount`` of ``invoice``; the job makes it at the PSP."""
        payment_id = new_id()
        payment = Payment(
            id=payment_id,
            company_id=invoice.company_id,
            invoice_id=invoice.id,
            method=PaymentMethod.PIX.value,
            provider=PSP,
            provider_reference=payment_id.hex,  # the txid: 32 alphanumerics, as cob wants
            amount=amount,
            currency=invoice.currency,
            status="pending",
            expires_at=u.now + timedelta(seconds=self.settings.pix_expires_after_s),
            created_at=u.now,
            updated_at=u.now,
        )
        u.session.add(payment)
        return payment

    async def _enqueue_charge(self, u: Unit, payment: Payment) -> None:
        await self.engine.enqueue(
            u.session,
            "pix-charge",
            {"payment_id": str(payment.id)},
            key=f"payment:{payment.id}",
            target="pix_psp",
            dedupe_key=f"pix-charge:{payment.id}",
            company_id=payment.company_id,
            cause=u.cause,
        )

    async def _cancel_charge(self, u: Unit, payment: Payment) -> None:
        payment.status, payment.updated_at = "canceled", u.now
        await self.engine.enqueue(
            u.session,
            "pix-cancel",
            {"txid": payment.provider_reference},
            key=f"payment:{payment.id}",
            target="pix_psp",
            dedupe_key=f"pix-cancel:{payment.id}",
            company_id=payment.company_id,
        )

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
                data=self._notice(invoice, reason=reason, code=code),
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
            action = next_action(intent.get("next_action") or {})
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
        elif kind.startswith("charge.dispute."):
            await self.apply_dispute(u, kind, data)  # type: ignore[attr-defined]
        return True

    async def _payment_for_intent(self, u: Unit, intent: dict[str, Any]) -> Payment | None:
        reference = str(intent.get("id", ""))
        payment = await repo.payment_by_reference(u.session, reference, lock=True)
        if payment is None:
            payment_id = uuid_or_none((intent.get("metadata") or {}).get("payment_id"))
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
            elif attempt.provider == PSP:
                await self._cancel_charge(u, attempt)

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
            if payment.status != "succeeded" or payment.provider not in ("stripe", "pix", PSP):
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
            if payment.provider in ("stripe", PSP):
                await self.engine.enqueue(
                    u.session,
                    "stripe-refund" if payment.provider == "stripe" else "pix-refund",
                    {"refund_id": str(refund.id)},
                    key=f"refund:{refund.id}",
                    target="stripe" if payment.provider == "stripe" else "pix_psp",
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
        if status in ("pending", "requires_action"):  # Stripe finishes it later, by webhook
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
        refund_id = uuid_or_none((data.get("metadata") or {}).get("refund_id"))
        if refund_id is None and data.get("id"):
            found = await repo.refund_by_reference(u.session, str(data["id"]))
            refund_id = found.id if found else await self._dashboard_refund(u, data)
        if refund_id is not None:
            await self.settle_refund(
                u, refund_id, status=str(data.get("status")), reference=data.get("id")
            )

    async def _dashboard_refund(self, u: Unit, data: dict[str, Any]) -> UUID | None:
        """A refund made in Stripe's dashboard, not by us: recorded from its
        webhook so the invoice and the books say what Stripe did."""
        if data.get("status") in ("failed", "canceled") or not data.get("payment_intent"):
            return None
        payment = await repo.payment_by_reference(u.session, str(data["payment_intent"]))
        if payment is None:
            return None  # not one of ours
        refund = Refund(
            id=new_id(),
            company_id=payment.company_id,
            invoice_id=payment.invoice_id,
            payment_id=payment.id,
            amount=int(data["amount"]),
            currency=payment.currency,
            reason="Reembolso feito no painel do Stripe / refunded from Stripe's dashboard",
            status="pending",
            provider_reference=str(data["id"]),
            created_at=u.now,
        )
        u.session.add(refund)
        await u.session.flush()
        log.warning("refund %s was made in Stripe's dashboard; recorded", data["id"])
        return refund.id


PAYMENT_METHOD_REF = re.compile(r"^pm_[A-Za-z0-9_]+$")
"""What a Stripe PaymentMethod id looks like (never card data)."""


def next_action(action: dict[str, Any]) -> dict[str, Any]:
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


def uuid_or_none(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None
