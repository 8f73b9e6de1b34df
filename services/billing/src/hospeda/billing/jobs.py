"""Billing's durable jobs: every call to Stripe and to the Pix PSP runs here,
retried with backoff and always with the same idempotency key (or, for the
PSP, the same txid or return id, looked up before it is made), so a retry
after a timeout never charges or gives back twice.

- ``stripe-pay``: create and confirm the PaymentIntent of a payment attempt
  (card on or off session, or Pix through Stripe);
- ``stripe-sync``: the customer came back from Stripe — read the
  PaymentIntent and apply what it says;
- ``stripe-cancel``: withdraw an attempt the invoice no longer needs;
- ``stripe-refund``: return money on a card or Stripe Pix payment;
- ``pix-charge``, ``pix-cancel``: make or withdraw an invoice's charge at the PSP;
- ``pix-return``: give back a Pix nobody asked for; ``pix-refund``: a staff
  refund of a Pix (both a ``devolucao``, followed until it ends);
- ``pix-reconcile``: list what the PSP received and take in what no webhook said.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.billing import repository as repo
from hospeda.billing.adapters.pix_psp import RETURN_FINAL, PixProvider, PixReturn, PixUnavailable
from hospeda.billing.adapters.stripe import Declined, PaymentGateway, StripeRejected
from hospeda.billing.models import Invoice, Payment, PixReceipt, Refund
from hospeda.billing.service import Billing, Unit
from hospeda.billing.service.pix_settlement import reconcile_window
from hospeda.runtime.errors import PermanentError
from hospeda.runtime.jobs import ClaimedJob, JobContext, JobEngine, RetryPolicy

STRIPE_CONCURRENCY = 20
"""Stripe calls in flight at once, across every billing worker."""
PSP_CONCURRENCY = 10
"""Calls to the Pix PSP in flight at once."""

_KEEP = (
    "id",
    "status",
    "amount",
    "amount_received",
    "next_action",
    "last_payment_error",
    "metadata",
)


def register_jobs(engine: JobEngine, billing: Billing, *, attempts: int, base_delay: float) -> None:
    """Declare the job kinds on ``engine``."""
    policy = RetryPolicy(max_attempts=attempts, base_delay=timedelta(seconds=base_delay))
    engine.limit_target("stripe", STRIPE_CONCURRENCY)

    def stripe() -> PaymentGateway:
        if billing.stripe is None:
            raise PermanentError("Stripe não está configurado / Stripe is not configured")
        return billing.stripe

    def unit(session: AsyncSession, job: ClaimedJob) -> Unit:
        return Unit(session, billing.clock.now(), job.correlation_id or job.id, job.causation_id)

    async def pay_failed(session: AsyncSession, job: ClaimedJob, error: str, _: Any) -> None:
        await billing.apply_failure(
            unit(session, job), UUID(job.payload["payment_id"]), code="provider_error", reason=error
        )

    @engine.kind("stripe-pay", queue="payments", policy=policy, on_failure=pay_failed)
    async def stripe_pay(job: JobContext) -> None:
        payment_id = UUID(job.payload["payment_id"])
        async with job.transaction() as session:
            payment = await repo.get(session, Payment, payment_id)
            if payment is None or payment.status != "pending":
                return  # withdrawn, or settled by a webhook that came first
            invoice = await repo.get(session, Invoice, payment.invoice_id)
            account = await repo.account(session, payment.company_id, billing.clock.now())
            assert invoice is not None
            facts: dict[str, Any] = {
                "company_id": str(payment.company_id),
                "email": account.contact_email,
                "customer": account.stripe_customer_id,
                "amount": payment.amount,
                "currency": payment.currency,
                "method": "card" if payment.method == "card" else "pix",
                "card": payment.payment_method_ref,
                "off_session": payment.off_session,
                "number": invoice.number,
                "invoice_id": str(invoice.id),
            }
        customer = facts["customer"]
        if customer is None:
            customer = await job.step(
                "customer",
                lambda: stripe().ensure_customer(
                    company_id=facts["company_id"],
                    email=facts["email"],
                    idempotency_key=f"customer-{facts['company_id']}",
                ),
            )
            async with job.transaction() as session:
                account = await repo.account(session, payment.company_id, billing.clock.now())
                account.stripe_customer_id = account.stripe_customer_id or customer

        async def create() -> dict[str, Any]:
            try:
                intent = await stripe().create_payment_intent(
                    amount=facts["amount"],
                    currency=facts["currency"],
                    method=facts["method"],
                    customer=customer,
                    payment_method=facts["card"],
                    off_session=facts["off_session"],
                    save_card=True,
                    description=f"Fatura {facts['number']}",
                    metadata={
                        "payment_id": str(payment_id),
                        "invoice_id": facts["invoice_id"],
                        "company_id": facts["company_id"],
                    },
                    idempotency_key=f"pi-{payment_id}",
                    pix_expires_after_s=billing.settings.stripe_pix_expires_after_s,
                    return_url=f"{billing.settings.return_url}?invoice={facts['invoice_id']}",
                )
            except Declined as declined:
                return {
                    "declined": declined.code,
                    "message": declined.message,
                    "intent_id": declined.payment_intent.get("id"),
                }
            return {k: intent.get(k) for k in _KEEP}

        result = await job.step("intent", create)
        async with job.transaction() as session:
            u = unit(session, job.job)
            if "declined" in result:
                if result.get("intent_id"):
                    locked = await repo.get(session, Payment, payment_id, lock=True)
                    if locked is not None and locked.provider_reference is None:
                        locked.provider_reference = result["intent_id"]
                await billing.apply_failure(
                    u, payment_id, code=result["declined"], reason=result["message"]
                )
            else:
                await billing.record_intent(u, payment_id, result)

    @engine.kind("stripe-sync", queue="payments", policy=policy)
    async def stripe_sync(job: JobContext) -> None:
        intent = await stripe().retrieve_payment_intent(job.payload["payment_intent_id"])
        async with job.transaction() as session:
            u = unit(session, job.job)
            payment = await billing.payment_for_confirmation(
                u,
                invoice_id=UUID(job.payload["invoice_id"]),
                company_id=UUID(job.payload["company_id"]),
                intent=intent,
            )
            if payment is not None:
                await billing.record_intent(u, payment.id, intent)
            else:
                await job.note("PaymentIntent não pertence a esta fatura / not this invoice's")

    @engine.kind("stripe-cancel", queue="payments", policy=policy)
    async def stripe_cancel(job: JobContext) -> None:
        payment_id = UUID(job.payload["payment_id"])
        async with job.transaction() as session:
            payment = await repo.get(session, Payment, payment_id)
            reference = payment.provider_reference if payment is not None else None
        if payment is None or reference is None:
            return
        try:
            intent = await stripe().cancel_payment_intent(
                reference, idempotency_key=f"cancel-{payment_id}"
            )
        except StripeRejected:
            # it could not be cancelled (e.g. paid meanwhile): apply what it is now
            intent = await stripe().retrieve_payment_intent(reference)
        async with job.transaction() as session:
            await billing.record_intent(unit(session, job.job), payment_id, intent)

    async def refund_failed(session: AsyncSession, job: ClaimedJob, error: str, _: Any) -> None:
        await billing.settle_refund(
            unit(session, job), UUID(job.payload["refund_id"]), status="failed", reference=None
        )

    @engine.kind("stripe-refund", queue="payments", policy=policy, on_failure=refund_failed)
    async def stripe_refund(job: JobContext) -> None:
        refund_id = UUID(job.payload["refund_id"])
        async with job.transaction() as session:
            refund = await repo.get(session, Refund, refund_id)
            if refund is None or refund.status != "pending":
                return
            payment = await repo.get(session, Payment, refund.payment_id)
            assert payment is not None and payment.provider_reference
            facts: dict[str, Any] = {
                "intent": payment.provider_reference,
                "amount": refund.amount,
                "invoice_id": str(refund.invoice_id),
            }
        result = await job.step(
            "refund",
            lambda: _refund(stripe(), refund_id, facts),
        )
        async with job.transaction() as session:
            await billing.settle_refund(
                unit(session, job.job), refund_id, status=result["status"], reference=result["id"]
            )

    register_pix_jobs(engine, billing, policy, unit)


async def _refund(
    gateway: PaymentGateway, refund_id: UUID, facts: dict[str, Any]
) -> dict[str, Any]:
    refund = await gateway.create_refund(
        payment_intent=facts["intent"],
        amount=facts["amount"],
        metadata={"refund_id": str(refund_id), "invoice_id": facts["invoice_id"]},
        idempotency_key=f"refund-{refund_id}",
    )
    return {"id": refund["id"], "status": refund["status"]}


def register_pix_jobs(
    engine: JobEngine,
    billing: Billing,
    policy: RetryPolicy,
    unit: Any,
) -> None:
    """The jobs that talk to the Pix PSP (API Pix)."""
    engine.limit_target("pix_psp", PSP_CONCURRENCY)

    def psp() -> PixProvider:
        if billing.pix_psp is None:
            raise PermanentError("O PSP Pix não está configurado / the Pix PSP is not configured")
        return billing.pix_psp

    async def charge_failed(session: AsyncSession, job: ClaimedJob, error: str, _: Any) -> None:
        await billing.apply_failure(
            unit(session, job), UUID(job.payload["payment_id"]), code="provider_error", reason=error
        )

    @engine.kind("pix-charge", queue="payments", policy=policy, on_failure=charge_failed)
    async def pix_charge(job: JobContext) -> None:
        payment_id = UUID(job.payload["payment_id"])
        async with job.transaction() as session:
            payment = await repo.get(session, Payment, payment_id)
            if payment is None or payment.status != "pending":
                return
            invoice = await repo.get(session, Invoice, payment.invoice_id)
            assert invoice is not None and payment.provider_reference and payment.expires_at
            facts: dict[str, Any] = {
                "txid": payment.provider_reference,
                "amount": payment.amount,
                "expires_after_s": max(
                    60, int((payment.expires_at - billing.clock.now()).total_seconds())
                ),
                "description": f"Fatura {invoice.number}",
            }
        charge = await psp().create_charge(**facts)
        async with job.transaction() as session:
            await billing.record_charge(unit(session, job.job), payment_id, charge)

    @engine.kind("pix-cancel", queue="payments", policy=policy)
    async def pix_cancel(job: JobContext) -> None:
        charge = await psp().cancel_charge(job.payload["txid"])
        await job.note(f"cobrança {charge.txid}: {charge.status}")

    async def follow(end_to_end_id: str, return_id: str, amount: int, reason: str) -> PixReturn:
        """Ask for the return (once: the PSP knows it by id), then wait for its end."""
        given = await psp().give_back(
            end_to_end_id=end_to_end_id, return_id=return_id, amount=amount, reason=reason
        )
        if given.status not in RETURN_FINAL:
            given = await psp().returned(end_to_end_id=end_to_end_id, return_id=return_id)
        if given.status not in RETURN_FINAL:
            raise PixUnavailable(f"devolução {return_id} em processamento / still in progress")
        return given

    async def return_failed(session: AsyncSession, job: ClaimedJob, error: str, _: Any) -> None:
        receipt = await repo.get(session, PixReceipt, job.payload["end_to_end_id"])
        if receipt is not None and receipt.return_id:
            await billing.settle_return(
                unit(session, job), receipt.return_id, status="NAO_REALIZADO", reason=error
            )

    @engine.kind("pix-return", queue="payments", policy=policy, on_failure=return_failed)
    async def pix_return(job: JobContext) -> None:
        async with job.transaction() as session:
            receipt = await repo.get(session, PixReceipt, job.payload["end_to_end_id"])
            if receipt is None or receipt.return_status != "pending" or not receipt.return_id:
                return
            facts = (receipt.end_to_end_id, receipt.return_id, receipt.return_amount)
        given = await follow(*facts, "Pix recebido sem cobrança em aberto")
        async with job.transaction() as session:
            await billing.settle_return(
                unit(session, job.job), given.id, status=given.status, reason=given.reason
            )

    async def pix_refund_failed(session: AsyncSession, job: ClaimedJob, error: str, _: Any) -> None:
        await billing.settle_refund(
            unit(session, job), UUID(job.payload["refund_id"]), status="failed", reference=None
        )

    @engine.kind("pix-refund", queue="payments", policy=policy, on_failure=pix_refund_failed)
    async def pix_refund(job: JobContext) -> None:
        refund_id = UUID(job.payload["refund_id"])
        async with job.transaction() as session:
            refund = await repo.get(session, Refund, refund_id)
            if refund is None or refund.status != "pending":
                return
            receipt = await repo.receipt_of_payment(session, refund.payment_id)
            if receipt is None:
                raise PermanentError("Nenhum Pix recebido para este pagamento / no Pix received")
            facts = (receipt.end_to_end_id, refund.id.hex, refund.amount, refund.reason)
        given = await follow(*facts)
        async with job.transaction() as session:
            await billing.settle_refund(
                unit(session, job.job),
                refund_id,
                status="succeeded" if given.status == "DEVOLVIDO" else "failed",
                reference=given.id,
            )

    @engine.kind("pix-reconcile", queue="payments", policy=policy)
    async def pix_reconcile(job: JobContext) -> None:
        start, end = reconcile_window(int(job.payload["window_s"]))
        received = await psp().received(start=start, end=end)
        taken = 0
        for pix in received:
            async with job.transaction() as session:
                taken += await billing.receive_pix(unit(session, job.job), pix)
        await job.note(f"{len(received)} Pix no PSP, {taken} novos / {taken} new")
