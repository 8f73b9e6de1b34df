"""Billing's durable jobs: every call to Stripe runs here, retried with
backoff and always with the same idempotency key, so a retry after a
timeout never charges twice.

- ``stripe-pay``: create and confirm the PaymentIntent of a payment attempt
  (card on or off session, or Pix through Stripe);
- ``stripe-sync``: the customer came back from Stripe — read the
  PaymentIntent and apply what it says;
- ``stripe-cancel``: withdraw an attempt the invoice no longer needs;
- ``stripe-refund``: return money on a card or Stripe Pix payment.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.billing import repository as repo
from hospeda.billing.adapters.stripe import Declined, PaymentGateway, StripeRejected
from hospeda.billing.models import Invoice, Payment, Refund
from hospeda.billing.service import Billing, Unit
from hospeda.runtime.jobs import ClaimedJob, JobContext, JobEngine, RetryPolicy

STRIPE_CONCURRENCY = 20
"""Stripe calls in flight at once, across every billing worker."""

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
            from hospeda.runtime.errors import PermanentError

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
