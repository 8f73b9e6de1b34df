"""Payments are applied exactly once — whatever races — and a failed one
leaves the invoice open."""

from __future__ import annotations

import asyncio

import httpx
from billing_kit import STAFF, Harness, ordered, payment_in

from hospeda.billing.models import CreditBalance, Payment
from hospeda.billing.pix import parse_payload
from hospeda.contracts import Money
from hospeda.contracts.billing import (
    ConfirmPayment,
    PayInvoice,
    PaymentMethod,
    RecordPixPayment,
    RefundInvoice,
    VoidInvoice,
)
from hospeda.contracts.topics import (
    BILLING_INVOICE,
    BILLING_PAYMENT,
    NOTIFY_COMMANDS,
    PROVISIONING_COMMANDS,
)


def pay(
    invoice_id: object,
    method: PaymentMethod = PaymentMethod.CARD,
    card: str | None = "pm_card_visa",
) -> PayInvoice:
    return PayInvoice(
        invoice_id=invoice_id,
        method=method,
        payment_method_ref=card if method is PaymentMethod.CARD else None,
    )


async def test_the_same_webhook_twice_and_concurrently_is_one_payment(billing: Harness) -> None:
    issued = await ordered(billing, plan="basico")
    await billing.send(pay(issued.invoice_id))
    await billing.wait(BILLING_INVOICE, "billing.invoice.paid")
    await billing.quiet()
    state = await billing.sim.state()
    (succeeded,) = [e for e in state["events"] if e["type"] == "payment_intent.succeeded"]

    answers = await billing.sim.acontrol(
        "POST", f"/_sim/events/{succeeded['id']}/deliver", params={"copies": 6}
    )
    assert answers["statuses"] == [200] * 6
    await billing.sim.acontrol("POST", f"/_sim/events/{succeeded['id']}/deliver")
    await billing.quiet()

    assert len(billing.watcher.of(BILLING_PAYMENT, "billing.payment.succeeded")) == 1
    assert len(billing.watcher.of(BILLING_INVOICE, "billing.invoice.paid")) == 1
    assert len(billing.watcher.of(PROVISIONING_COMMANDS, "provisioning.create_account")) == 1
    assert await billing.rows(CreditBalance) == []  # nothing was counted twice


async def test_webhook_redirect_and_retry_racing_apply_the_payment_once(billing: Harness) -> None:
    """Stripe takes the charge but the answer is lost; while the job waits to
    retry, the webhook arrives (several times) and the customer comes back
    from the payment page. One payment, one service."""
    issued = await ordered(billing, plan="basico", addons=("ssl",))
    await billing.sim.fault("lost_response", path="/v1/payment_intents", seconds=5)
    await billing.send(pay(issued.invoice_id))

    async def created() -> list[dict]:
        return [i for i in await billing.sim.intents() if i["status"] == "succeeded"]

    while not await created():
        await asyncio.sleep(0.05)
    (intent,) = await created()
    state = await billing.sim.state()
    (event,) = [e for e in state["events"] if e["type"] == "payment_intent.succeeded"]
    await asyncio.gather(
        billing.send(ConfirmPayment(invoice_id=issued.invoice_id, payment_intent_id=intent["id"])),
        billing.sim.acontrol("POST", f"/_sim/events/{event['id']}/deliver", params={"copies": 3}),
        billing.send(ConfirmPayment(invoice_id=issued.invoice_id, payment_intent_id=intent["id"])),
    )
    await billing.wait(BILLING_INVOICE, "billing.invoice.paid")
    await billing.quiet()

    assert len((await billing.sim.state())["charges"]) == 1
    assert len(billing.watcher.of(BILLING_PAYMENT, "billing.payment.succeeded")) == 1
    assert len(billing.watcher.of(BILLING_INVOICE, "billing.invoice.paid")) == 1
    assert [c.type for c in billing.watcher.envelopes(PROVISIONING_COMMANDS)] == [
        "provisioning.create_account",
        "provisioning.enable_addon",
    ]
    (payment,) = await billing.rows(Payment)
    assert payment.status == "succeeded" and payment.provider_reference == intent["id"]
    assert await billing.rows(CreditBalance) == []


async def test_a_declined_card_leaves_the_invoice_open(billing: Harness) -> None:
    issued = await ordered(billing, plan="basico")
    await billing.send(pay(issued.invoice_id, card="pm_card_chargeDeclinedInsufficientFunds"))
    (failed,) = await billing.wait(BILLING_PAYMENT, "billing.payment.failed")
    assert failed.code == "card_declined" and "insufficient funds" in failed.reason
    await billing.quiet()
    invoice = await billing.ask("invoices.get", {"invoice_id": str(issued.invoice_id)})
    assert invoice["status"] == "open" and invoice["amount_paid"]["amount"] == 0
    assert invoice["payments"][0]["status"] == "failed"
    assert billing.watcher.of(PROVISIONING_COMMANDS) == []
    assert [n.template for n in billing.watcher.of(NOTIFY_COMMANDS)] == [
        "invoice-issued",
        "payment-failed",
    ]

    await billing.send(pay(issued.invoice_id, card="pm_card_mastercard"))
    await billing.wait(BILLING_INVOICE, "billing.invoice.paid")
    await billing.wait(PROVISIONING_COMMANDS, "provisioning.create_account")


async def test_an_expired_stripe_pix_leaves_the_invoice_open(billing: Harness) -> None:
    issued = await ordered(billing, plan="basico")
    await billing.send(pay(issued.invoice_id, PaymentMethod.PIX_STRIPE))
    (shown,) = await payment_in(billing, issued.invoice_id, "requires_action")
    action = shown["next_action"]
    assert action["type"] == "pix_stripe" and action["expires_at"]
    assert parse_payload(action["copy_paste"]).amount == issued.total.amount

    await billing.sim.acontrol(
        "POST", f"/_sim/payment_intents/{shown['provider_reference']}/pix/expire"
    )
    (failed,) = await billing.wait(BILLING_PAYMENT, "billing.payment.failed")
    assert failed.code == "payment_intent_payment_attempt_expired"
    await billing.quiet()
    invoice = await billing.ask("invoices.get", {"invoice_id": str(issued.invoice_id)})
    assert invoice["status"] == "open"
    assert [p["status"] for p in invoice["payments"]] == ["expired"]
    assert billing.watcher.of(PROVISIONING_COMMANDS) == []

    await billing.send(pay(issued.invoice_id, PaymentMethod.PIX_STRIPE))  # a fresh code
    fresh = [
        p
        for p in await payment_in(billing, issued.invoice_id, "requires_action")
        if p["id"] != shown["id"]
    ]
    await billing.sim.acontrol(
        "POST", f"/_sim/payment_intents/{fresh[0]['provider_reference']}/pix/pay"
    )
    await billing.wait(BILLING_INVOICE, "billing.invoice.paid")
    await billing.wait(PROVISIONING_COMMANDS, "provisioning.create_account")


async def test_direct_pix_shows_a_br_code_and_is_applied_once_when_reconciled(
    billing: Harness,
) -> None:
    issued = await ordered(billing, plan="basico")
    await billing.send(pay(issued.invoice_id, PaymentMethod.PIX))
    (shown,) = await payment_in(billing, issued.invoice_id, "requires_action")
    code = parse_payload(shown["next_action"]["copy_paste"])
    assert code.key == "financeiro@hospeda.com.br" and code.amount == issued.total.amount
    assert code.txid == shown["provider_reference"]
    assert shown["next_action"]["qr_png"].startswith("data:image/png;base64,")
    await billing.send(
        pay(issued.invoice_id, PaymentMethod.PIX)
    )  # asking again shows the same code

    record = RecordPixPayment(
        invoice_id=issued.invoice_id,
        txid=code.txid,
        amount=Money(amount=code.amount),
        end_to_end_id="E1234",
    )
    await billing.send(record, actor=STAFF)
    await billing.send(record, actor=STAFF)
    await billing.wait(BILLING_INVOICE, "billing.invoice.paid")
    await billing.quiet()
    assert len(billing.watcher.of(BILLING_PAYMENT, "billing.payment.succeeded")) == 1
    assert len(await billing.rows(Payment)) == 1
    assert len(billing.watcher.of(PROVISIONING_COMMANDS, "provisioning.create_account")) == 1


async def test_a_direct_pix_expires_on_the_clock(billing: Harness) -> None:
    issued = await ordered(billing, plan="basico")
    await billing.send(pay(issued.invoice_id, PaymentMethod.PIX))
    await payment_in(billing, issued.invoice_id, "requires_action")
    await billing.advance(days=1, minutes=1)
    (failed,) = await billing.wait(BILLING_PAYMENT, "billing.payment.failed")
    assert failed.code == "expired"
    invoice = await billing.ask("invoices.get", {"invoice_id": str(issued.invoice_id)})
    assert invoice["status"] == "open" and invoice["payments"][0]["next_action"] is None


async def test_money_paid_twice_becomes_credit_used_on_the_next_invoice(billing: Harness) -> None:
    issued = await ordered(billing, plan="basico")
    await billing.send(pay(issued.invoice_id, PaymentMethod.PIX))
    (pix,) = await payment_in(billing, issued.invoice_id, "requires_action")
    await billing.send(pay(issued.invoice_id))  # and by card, too
    await billing.wait(BILLING_INVOICE, "billing.invoice.paid")
    # the Pix transfer arrives anyway: never lost, kept as credit
    await billing.send(
        RecordPixPayment(
            invoice_id=issued.invoice_id, txid=pix["provider_reference"], amount=Money(amount=1990)
        ),
        actor=STAFF,
    )
    await billing.wait(BILLING_PAYMENT, "billing.payment.succeeded", count=2)
    await billing.quiet()
    credit = await billing.ask("credit.get")
    assert credit["balances"] == [{"amount": 1990, "currency": "BRL"}]

    second = await ordered(billing, plan="profissional")
    assert second.subtotal.amount == 3990
    assert second.credit_applied.amount == 1990 and second.total.amount == 2000
    credit = await billing.ask("credit.get")
    assert credit["balances"] == []


async def test_refunds_partial_then_full(billing: Harness) -> None:
    issued = await ordered(billing, plan="profissional")
    await billing.send(pay(issued.invoice_id))
    await billing.wait(BILLING_INVOICE, "billing.invoice.paid")
    await billing.send(
        RefundInvoice(invoice_id=issued.invoice_id, amount=Money(amount=1000), reason="cortesia"),
        actor=STAFF,
    )
    (partial,) = await billing.wait(BILLING_INVOICE, "billing.invoice.refunded")
    assert partial.amount.amount == 1000 and not partial.fully_refunded
    await billing.send(
        RefundInvoice(invoice_id=issued.invoice_id, reason="cancelamento"), actor=STAFF
    )
    refunds = await billing.wait(BILLING_INVOICE, "billing.invoice.refunded", count=2)
    assert refunds[1].amount.amount == 2990 and refunds[1].fully_refunded
    await billing.quiet()
    invoice = await billing.ask("invoices.get", {"invoice_id": str(issued.invoice_id)})
    assert invoice["status"] == "refunded" and invoice["amount_refunded"]["amount"] == 3990
    assert sorted(r["amount"] for r in (await billing.sim.state())["refunds"]) == [1000, 2990]
    assert len(billing.watcher.of(BILLING_PAYMENT, "billing.payment.refunded")) == 2


async def test_a_webhook_with_a_bad_signature_is_refused_and_changes_nothing(
    billing: Harness,
) -> None:
    issued = await ordered(billing, plan="basico")
    await billing.send(pay(issued.invoice_id, PaymentMethod.PIX_STRIPE))
    (shown,) = await payment_in(billing, issued.invoice_id, "requires_action")
    forged = (
        '{"id": "evt_forged", "object": "event", "type": "payment_intent.succeeded", "data": {"object": '
        f'{{"id": "{shown["provider_reference"]}", "status": "succeeded", "amount": 1990, "amount_received": 1990}}}}}}'
    )
    async with httpx.AsyncClient() as client:
        unsigned = await client.post(billing.webhook_url, content=forged)
        wrong = await client.post(
            billing.webhook_url,
            content=forged,
            headers={"Stripe-Signature": "t=1700000000,v1=deadbeef"},
        )
    assert unsigned.status_code == 400 and wrong.status_code == 400
    await billing.quiet()
    invoice = await billing.ask("invoices.get", {"invoice_id": str(issued.invoice_id)})
    assert invoice["status"] == "open"
    assert billing.watcher.of(BILLING_PAYMENT, "billing.payment.succeeded") == []


async def test_stripe_down_for_a_while_is_retried_and_charges_once(billing: Harness) -> None:
    issued = await ordered(billing, plan="basico")
    await billing.sim.fault("error", status=503, count=2, path="/v1/payment_intents")
    await billing.send(pay(issued.invoice_id))
    await billing.wait(BILLING_INVOICE, "billing.invoice.paid")
    await billing.quiet()
    assert len((await billing.sim.state())["charges"]) == 1
    jobs = await billing.ask("jobs.list", {"queue": "payments"})
    (job,) = [j for j in jobs if j["kind"] == "stripe-pay"]
    assert job["state"] == "succeeded" and job["attempts"] == 3


async def test_a_card_stripe_refuses_fails_that_attempt_and_the_next_one_works(
    billing: Harness,
) -> None:
    issued = await ordered(billing, plan="basico")
    await billing.send(pay(issued.invoice_id, card="pm_card_thatDoesNotExist"))
    (failed,) = await billing.wait(BILLING_PAYMENT, "billing.payment.failed")
    assert "No such PaymentMethod" in failed.reason
    await billing.send(pay(issued.invoice_id))
    await billing.wait(BILLING_INVOICE, "billing.invoice.paid")
    await billing.wait(PROVISIONING_COMMANDS, "provisioning.create_account")


async def test_3d_secure_the_customer_comes_back_and_the_redirect_alone_settles_it(
    billing: Harness,
) -> None:
    issued = await ordered(billing, plan="basico")
    await billing.send(pay(issued.invoice_id, card="pm_card_authenticationRequired"))
    (waiting,) = await payment_in(billing, issued.invoice_id, "requires_action")
    assert waiting["next_action"]["type"] == "redirect"
    await billing.sim.acontrol("POST", "/_sim/webhooks/pause")  # Stripe's webhooks are late today
    async with httpx.AsyncClient() as client:
        bank = await client.get(waiting["next_action"]["url"])  # the customer authenticates
    assert bank.status_code == 303
    back = httpx.URL(bank.headers["location"])
    assert back.path == "/app/pagamento/retorno" and back.params["redirect_status"] == "succeeded"
    # the gateway turns the customer's return into a command
    await billing.send(
        ConfirmPayment(
            invoice_id=issued.invoice_id, payment_intent_id=back.params["payment_intent"]
        )
    )
    await billing.wait(BILLING_INVOICE, "billing.invoice.paid")
    await billing.wait(PROVISIONING_COMMANDS, "provisioning.create_account")
    await billing.sim.acontrol("POST", "/_sim/webhooks/resume")  # and then they arrive
    await billing.quiet()
    assert len(billing.watcher.of(BILLING_PAYMENT, "billing.payment.succeeded")) == 1
    assert len(billing.watcher.of(PROVISIONING_COMMANDS, "provisioning.create_account")) == 1


async def test_a_customer_voids_an_unpaid_order(billing: Harness) -> None:
    issued = await ordered(billing, plan="basico", addons=("ssl",))
    await billing.send(VoidInvoice(invoice_id=issued.invoice_id, reason="desisti"))
    (voided,) = await billing.wait(BILLING_INVOICE, "billing.invoice.voided")
    assert voided.reason == "desisti"
    await billing.quiet()
    order = await billing.ask("orders.get", {"order_id": str(issued.order_id)})
    assert order["status"] == "cancelled" and order["invoice"]["status"] == "void"
    subs = await billing.ask("subscriptions.list")
    assert {s["status"] for s in subs["items"]} == {"cancelled"}
    await billing.send(pay(issued.invoice_id))
    assert "Nada a pagar: a fatura" in await billing.dead_letter()
