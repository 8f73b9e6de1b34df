"""Pix settled by the platform through a PSP's API Pix (the PSP simulator, a
real HTTP server speaking the standard): a charge per invoice, settled by the
webhook or, when the webhook is lost, by reconciliation; a Pix counted once
however often it is reported; money nobody asked for given back or kept as
credit, with staff told; staff refunds through the PSP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from billing_kit import (
    PIX_KEY,
    PSP_WEBHOOK_SECRET,
    STAFF,
    Harness,
    PspSim,
    StripeSim,
    ordered,
    payment_in,
    running_billing,
)

from hospeda.billing.adapters.pix_psp import sign
from hospeda.billing.models import CreditBalance, Payment, PixReceipt
from hospeda.billing.pix import parse_payload
from hospeda.contracts.billing import PayInvoice, PaymentMethod, RefundInvoice
from hospeda.contracts.topics import (
    BILLING_INVOICE,
    BILLING_PAYMENT,
    NOTIFY_COMMANDS,
    OPS_ALERT,
    PROVISIONING_COMMANDS,
)
from hospeda.devstack.servers import free_port
from hospeda.devstack.testing import eventually


@pytest.fixture
async def psp(psp_process: PspSim) -> PspSim:
    await psp_process.control("reset")
    return psp_process


@pytest.fixture
async def pix(
    database_url: str, kafka_bootstrap: str, stripe_sim: StripeSim, psp: PspSim
) -> AsyncIterator[Harness]:
    async with running_billing(
        database_url, kafka_bootstrap, stripe_sim, **psp.settings(free_port())
    ) as harness:
        yield harness


@pytest.fixture
async def pix_credit(
    database_url: str, kafka_bootstrap: str, stripe_sim: StripeSim, psp: PspSim
) -> AsyncIterator[Harness]:
    async with running_billing(
        database_url,
        kafka_bootstrap,
        stripe_sim,
        pix_surplus_policy="credit",
        **psp.settings(free_port()),
    ) as harness:
        yield harness


async def charged(h: Harness, psp: PspSim, plan: str = "basico") -> tuple[Any, dict[str, Any]]:
    """An order whose invoice has a Pix charge at the PSP; (invoice issued, payment)."""
    await eventually(
        lambda: _registered(psp), timeout=20, message="billing to register its webhook"
    )
    issued = await ordered(h, plan=plan)
    await h.send(PayInvoice(invoice_id=issued.invoice_id, method=PaymentMethod.PIX))
    (payment,) = await payment_in(h, issued.invoice_id, "requires_action")
    return issued, payment


async def _registered(psp: PspSim) -> bool:
    return bool((await psp.state())["webhook_url"])


async def receipts(h: Harness) -> list[PixReceipt]:
    return await h.rows(PixReceipt)


async def settled_receipts(h: Harness, count: int) -> list[PixReceipt]:
    found: list[PixReceipt] = []

    async def done() -> bool:
        nonlocal found
        found = await receipts(h)
        return len(found) >= count and all(r.return_status != "pending" for r in found)

    await eventually(done, timeout=40, message=f"{count} Pix receipts settled")
    return found


def notices(h: Harness, template: str) -> list[Any]:
    return [n for n in h.watcher.of(NOTIFY_COMMANDS) if getattr(n, "template", None) == template]


async def test_an_invoice_paid_by_pix_is_settled_by_the_psps_webhook(
    pix: Harness, psp: PspSim
) -> None:
    _issued, payment = await charged(pix, psp)
    assert (await psp.state())["webhook_url"].endswith("/webhooks/pix")

    # the customer sees the PSP's dynamic code: its location, no key and no amount
    code = parse_payload(payment["next_action"]["copy_paste"])
    assert code.location and code.location == payment["next_action"]["location"]
    assert code.key is None and code.amount is None
    assert payment["next_action"]["qr_png"].startswith("data:image/png;base64,")
    (charge,) = (await psp.state())["charges"]
    assert charge["txid"] == payment["provider_reference"]
    assert charge["valor"]["original"] == "19.90" and charge["chave"] == PIX_KEY
    assert charge["status"] == "ATIVA"

    (received,) = await psp.pay(charge["txid"])
    await pix.wait(BILLING_INVOICE, "billing.invoice.paid")
    await pix.quiet()
    (receipt,) = await receipts(pix)
    assert (receipt.end_to_end_id, receipt.outcome, receipt.amount) == (
        received["endToEndId"],
        "applied",
        1990,
    )
    state = await psp.state()
    assert state["charges"][0]["status"] == "CONCLUIDA"
    assert [d["status"] for d in state["deliveries"]] == [200]
    assert len(pix.watcher.of(BILLING_PAYMENT, "billing.payment.succeeded")) == 1
    assert len(pix.watcher.of(PROVISIONING_COMMANDS, "provisioning.create_account")) == 1


async def test_a_lost_webhook_is_found_by_reconciliation(pix: Harness, psp: PspSim) -> None:
    issued, payment = await charged(pix, psp)
    await psp.fault("webhook_drop")
    await psp.pay(payment["provider_reference"])
    await pix.quiet()
    invoice = await pix.ask("invoices.get", {"invoice_id": str(issued.invoice_id)})
    assert invoice["status"] == "open"  # nothing said so yet
    assert [d["status"] for d in (await psp.state())["deliveries"]] == ["dropped"]

    await pix.advance(seconds=pix.billing.settings.pix_reconcile_every_s)
    await pix.wait(BILLING_INVOICE, "billing.invoice.paid")
    await pix.quiet()
    (receipt,) = await receipts(pix)
    assert receipt.outcome == "applied"
    assert "GET /api/v2/pix" in (await psp.state())["calls"]


async def test_the_same_pix_reported_again_and_at_once_counts_once(
    pix: Harness, psp: PspSim
) -> None:
    _issued, payment = await charged(pix, psp)
    (received,) = await psp.pay(payment["provider_reference"])
    await pix.wait(BILLING_INVOICE, "billing.invoice.paid")
    await asyncio.gather(
        *(psp.control("redeliver", {"end_to_end_id": received["endToEndId"]}) for _ in range(5))
    )
    await pix.advance(seconds=pix.billing.settings.pix_reconcile_every_s)  # and reconciled
    await eventually(
        lambda: _delivered(psp, 6), timeout=20, message="every redelivery to be answered"
    )
    await pix.quiet()
    assert len(await receipts(pix)) == 1
    assert len(pix.watcher.of(BILLING_PAYMENT, "billing.payment.succeeded")) == 1
    assert len(pix.watcher.of(BILLING_INVOICE, "billing.invoice.paid")) == 1
    assert await pix.rows(CreditBalance) == []
    assert not pix.watcher.of(OPS_ALERT)


async def _delivered(psp: PspSim, count: int) -> bool:
    return sum(d["status"] == 200 for d in (await psp.state())["deliveries"]) >= count


async def test_a_webhook_without_a_good_signature_changes_nothing(
    pix: Harness, psp: PspSim
) -> None:
    issued, payment = await charged(pix, psp)
    port = pix.billing.settings.webhook_port
    forged = {
        "pix": [
            {
                "endToEndId": "E99999999202612071200abcdefghijk",
                "txid": payment["provider_reference"],
                "valor": "19.90",
                "horario": "2026-12-07T12:00:00.000Z",
            }
        ]
    }
    body = json.dumps(forged).encode()
    url = f"http://127.0.0.1:{port}/webhooks/pix/pix"
    async with httpx.AsyncClient(timeout=10) as client:
        unsigned = await client.post(url, content=body)
        wrong = await client.post(
            url, content=body, headers={"pix-signature": sign(body, "x" * 40)}
        )
        stale = await client.post(
            url,
            content=body,
            headers={"pix-signature": sign(body, PSP_WEBHOOK_SECRET, timestamp=1)},
        )
        tampered = await client.post(
            url,
            content=body.replace(b"19.90", b"1.00"),
            headers={"pix-signature": sign(body, PSP_WEBHOOK_SECRET)},
        )
    assert [r.status_code for r in (unsigned, wrong, stale, tampered)] == [400] * 4
    assert "signature" in wrong.json()["error"].lower()
    await pix.quiet()
    assert await receipts(pix) == []
    invoice = await pix.ask("invoices.get", {"invoice_id": str(issued.invoice_id)})
    assert invoice["status"] == "open"


async def test_a_pix_paid_twice_is_given_back_and_staff_are_told(pix: Harness, psp: PspSim) -> None:
    issued, payment = await charged(pix, psp)
    await psp.pay(payment["provider_reference"])
    await pix.wait(BILLING_INVOICE, "billing.invoice.paid")
    (second,) = await psp.pay(payment["provider_reference"], force=True)
    found = await settled_receipts(pix, 2)
    again = next(r for r in found if r.end_to_end_id == second["endToEndId"])
    assert (again.outcome, again.return_amount, again.return_status) == (
        "returned",
        1990,
        "succeeded",
    )
    (given,) = next(
        p for p in (await psp.state())["pix"] if p["endToEndId"] == second["endToEndId"]
    )["devolucoes"]
    assert (given["valor"], given["status"]) == ("19.90", "DEVOLVIDO")
    await pix.quiet()
    assert len(pix.watcher.of(BILLING_PAYMENT, "billing.payment.succeeded")) == 1
    assert await pix.rows(CreditBalance) == []
    (alert,) = pix.watcher.of(OPS_ALERT)
    assert "devolvido" in alert.summary and alert.details["end_to_end_id"] == again.end_to_end_id
    (told,) = notices(pix, "pix-returned")
    assert told.data["amount_cents"] == 1990 and told.data["number"] == issued.number


async def test_a_pix_for_more_pays_the_invoice_and_the_rest_goes_back(
    pix: Harness, psp: PspSim
) -> None:
    issued, payment = await charged(pix, psp)
    await psp.pay(payment["provider_reference"], amount_cents=3000)
    await pix.wait(BILLING_INVOICE, "billing.invoice.paid")
    (receipt,) = await settled_receipts(pix, 1)
    assert (receipt.outcome, receipt.return_amount, receipt.return_status) == (
        "applied+returned",
        1010,
        "succeeded",
    )
    invoice = await pix.ask("invoices.get", {"invoice_id": str(issued.invoice_id)})
    assert invoice["amount_paid"]["amount"] == 1990


async def test_a_pix_for_less_goes_back_and_the_invoice_asks_for_a_new_one(
    pix: Harness, psp: PspSim
) -> None:
    issued, payment = await charged(pix, psp)
    await psp.pay(payment["provider_reference"], amount_cents=1000)
    (receipt,) = await settled_receipts(pix, 1)
    assert (receipt.outcome, receipt.return_amount) == ("returned", 1000)
    (failed,) = await pix.wait(BILLING_PAYMENT, "billing.payment.failed")
    assert failed.code == "pix_underpaid"
    invoice = await pix.ask("invoices.get", {"invoice_id": str(issued.invoice_id)})
    assert invoice["status"] == "open" and invoice["amount_paid"]["amount"] == 0

    # paying again makes a new charge, which settles the invoice
    await pix.send(PayInvoice(invoice_id=issued.invoice_id, method=PaymentMethod.PIX))
    (fresh,) = await payment_in(pix, issued.invoice_id, "requires_action")
    assert fresh["provider_reference"] != payment["provider_reference"]
    await psp.pay(fresh["provider_reference"])
    await pix.wait(BILLING_INVOICE, "billing.invoice.paid")


async def test_with_the_credit_policy_surplus_is_credit_used_on_what_is_owed(
    pix_credit: Harness, psp: PspSim
) -> None:
    h = pix_credit
    issued, payment = await charged(h, psp, plan="profissional")  # 39,90
    await psp.pay(payment["provider_reference"], amount_cents=1500)
    await h.wait(BILLING_PAYMENT, "billing.payment.failed")
    await h.quiet()
    (receipt,) = await receipts(h)
    assert (receipt.outcome, receipt.return_amount) == ("credited", 0)
    invoice = await h.ask("invoices.get", {"invoice_id": str(issued.invoice_id)})
    assert invoice["credit_applied"]["amount"] == 1500
    assert invoice["amount_due"]["amount"] == 3990 - 1500

    await h.send(PayInvoice(invoice_id=issued.invoice_id, method=PaymentMethod.PIX))
    (fresh,) = await payment_in(h, issued.invoice_id, "requires_action")
    assert fresh["amount"]["amount"] == 2490
    await psp.pay(fresh["provider_reference"], amount_cents=3000)  # 5,10 too much
    await h.wait(BILLING_INVOICE, "billing.invoice.paid")
    await h.quiet()
    credit = await h.ask("credit.get")
    assert credit["balances"] == [{"amount": 510, "currency": "BRL"}]
    assert [d["devolucoes"] for d in (await psp.state())["pix"] if "devolucoes" in d] == []
    assert len(notices(h, "pix-credited")) == 2
    assert len(h.watcher.of(OPS_ALERT)) == 2


async def test_a_return_the_psp_cannot_make_is_kept_as_credit(pix: Harness, psp: PspSim) -> None:
    _issued, payment = await charged(pix, psp)
    await psp.fault("return_refused")
    await psp.pay(payment["provider_reference"])
    await pix.wait(BILLING_INVOICE, "billing.invoice.paid")
    await psp.pay(payment["provider_reference"], force=True)
    found = await settled_receipts(pix, 2)
    assert sorted(r.return_status for r in found) == ["", "failed"]
    await pix.quiet()
    credit = await pix.ask("credit.get")
    assert credit["balances"] == [{"amount": 1990, "currency": "BRL"}]
    severities = sorted(a.severity for a in pix.watcher.of(OPS_ALERT))
    assert severities == ["critical", "warning"]


async def test_the_psp_down_for_a_while_still_makes_one_charge(pix: Harness, psp: PspSim) -> None:
    await eventually(lambda: _registered(psp), timeout=20, message="the webhook registered")
    await psp.fault("api_unavailable", times=2)
    await psp.fault("token_expired")  # and a token that ran out early: a new one, once
    issued = await ordered(pix, plan="basico")
    await pix.send(PayInvoice(invoice_id=issued.invoice_id, method=PaymentMethod.PIX))
    await payment_in(pix, issued.invoice_id, "requires_action")
    state = await psp.state()
    assert len(state["charges"]) == 1
    assert state["calls"].count(f"PUT /api/v2/cob/{state['charges'][0]['txid']}") == 1


async def test_an_invoice_paid_by_card_withdraws_its_pix_charge(pix: Harness, psp: PspSim) -> None:
    issued, _payment = await charged(pix, psp)
    await pix.send(
        PayInvoice(
            invoice_id=issued.invoice_id,
            method=PaymentMethod.CARD,
            payment_method_ref="pm_card_visa",
        )
    )
    await pix.wait(BILLING_INVOICE, "billing.invoice.paid")

    async def removed() -> bool:
        (charge,) = (await psp.state())["charges"]
        return bool(charge["status"] == "REMOVIDA_PELO_USUARIO_RECEBEDOR")

    await eventually(removed, timeout=30, message="the Pix charge withdrawn at the PSP")
    (row,) = [p for p in await pix.rows(Payment) if p.provider == "psp"]
    assert row.status == "canceled"


async def test_staff_refund_of_a_pix_goes_back_through_the_psp(pix: Harness, psp: PspSim) -> None:
    issued, payment = await charged(pix, psp)
    (received,) = await psp.pay(payment["provider_reference"])
    await pix.wait(BILLING_INVOICE, "billing.invoice.paid")
    await pix.send(RefundInvoice(invoice_id=issued.invoice_id, reason="cancelamento"), actor=STAFF)
    (refunded,) = await pix.wait(BILLING_INVOICE, "billing.invoice.refunded")
    assert refunded.amount.amount == 1990 and refunded.fully_refunded
    (given,) = next(
        p for p in (await psp.state())["pix"] if p["endToEndId"] == received["endToEndId"]
    )["devolucoes"]
    assert (given["valor"], given["status"]) == ("19.90", "DEVOLVIDO")
    await pix.quiet()
    invoice = await pix.ask("invoices.get", {"invoice_id": str(issued.invoice_id)})
    assert invoice["status"] == "refunded"


async def test_a_pix_on_no_charge_of_ours_is_left_for_staff(pix: Harness, psp: PspSim) -> None:
    await eventually(lambda: _registered(psp), timeout=20, message="the webhook registered")
    await psp.control("pay", {"txid": "desconhecido" + "0" * 20, "amount_cents": 5000})
    (receipt,) = await settled_receipts(pix, 1)
    assert receipt.outcome == "unmatched" and receipt.payment_id is None
    (alert,) = await pix.wait(OPS_ALERT, "ops.alert.raised")
    assert alert.severity == "critical" and "R$ 50,00" in alert.summary
