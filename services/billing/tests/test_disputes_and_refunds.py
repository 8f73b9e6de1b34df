"""What happens at Stripe without our call reaches the books: refunds made in
the dashboard, refunds that wait for the customer, and card disputes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from billing_kit import STAFF, Harness, StripeSim, active_service, running_billing

from hospeda.contracts import Money
from hospeda.contracts.billing import RefundInvoice
from hospeda.contracts.topics import (
    BILLING_INVOICE,
    BILLING_PAYMENT,
    BILLING_SUBSCRIPTION,
    OPS_ALERT,
    PROVISIONING_COMMANDS,
)
from hospeda.devstack.testing import eventually


async def paid_charge(h: Harness) -> tuple[dict[str, Any], dict[str, Any]]:
    """A plan paid by card: its subscription and the Stripe charge that paid it."""
    sub = await active_service(h, plan="profissional")
    await h.quiet()
    (charge,) = (await h.sim.state())["charges"]
    return sub, charge


async def invoice_of(h: Harness) -> dict[str, Any]:
    (paid,) = h.watcher.of(BILLING_INVOICE, "billing.invoice.paid")
    return await h.ask("invoices.get", {"invoice_id": str(paid.invoice_id)})  # type: ignore[no-any-return]


async def test_a_refund_made_in_stripes_dashboard_is_recorded(billing: Harness) -> None:
    _, charge = await paid_charge(billing)
    await billing.sim.acontrol("POST", f"/_sim/charges/{charge['id']}/refund", json={"amount": 990})
    (refunded,) = await billing.wait(BILLING_INVOICE, "billing.invoice.refunded")
    assert refunded.amount.amount == 990 and not refunded.fully_refunded
    await billing.quiet()
    invoice = await invoice_of(billing)
    assert invoice["status"] == "partially_refunded"
    assert invoice["amount_refunded"]["amount"] == 990
    (refund,) = invoice["refunds"]
    assert refund["status"] == "succeeded" and "painel do Stripe" in refund["reason"]
    # refund.created and charge.refunded both carried it: recorded once
    assert len(billing.watcher.of(BILLING_PAYMENT, "billing.payment.refunded")) == 1


async def test_a_refund_that_requires_action_is_recorded_when_it_succeeds(
    billing: Harness,
) -> None:
    await paid_charge(billing)
    await billing.sim.acontrol("POST", "/_sim/config", json={"refunds_require_action": True})
    invoice = await invoice_of(billing)
    await billing.send(
        RefundInvoice(invoice_id=invoice["id"], amount=Money(amount=1000), reason="cortesia"),
        actor=STAFF,
    )
    (waiting,) = await _stripe_refunds(billing, "requires_action")
    await billing.quiet()
    invoice = await invoice_of(billing)
    assert [r["status"] for r in invoice["refunds"]] == ["pending"]  # not failed, no alert
    assert billing.watcher.of(OPS_ALERT) == []

    await billing.sim.acontrol("POST", f"/_sim/refunds/{waiting['id']}/complete")
    (refunded,) = await billing.wait(BILLING_INVOICE, "billing.invoice.refunded")
    assert refunded.amount.amount == 1000
    await billing.quiet()
    invoice = await invoice_of(billing)
    assert [r["status"] for r in invoice["refunds"]] == ["succeeded"]
    assert invoice["amount_refunded"]["amount"] == 1000


async def _stripe_refunds(h: Harness, status: str) -> list[dict[str, Any]]:
    async def found() -> bool:
        return any(r["status"] == status for r in (await h.sim.state())["refunds"])

    await eventually(found, timeout=30)
    return [r for r in (await h.sim.state())["refunds"] if r["status"] == status]


@pytest.fixture
async def suspend_on_open(
    database_url: str, kafka_bootstrap: str, stripe_sim: StripeSim
) -> AsyncIterator[Harness]:
    async with running_billing(
        database_url, kafka_bootstrap, stripe_sim, dispute_policy="suspend_on_open"
    ) as harness:
        yield harness


async def test_a_lost_dispute_is_recorded_alerts_staff_and_suspends_the_service(
    billing: Harness,
) -> None:
    sub, charge = await paid_charge(billing)
    dispute = await billing.sim.acontrol(
        "POST", f"/_sim/charges/{charge['id']}/dispute", json={"reason": "fraudulent"}
    )
    (opened,) = await billing.wait(OPS_ALERT, "ops.alert.raised")
    assert "Contestação aberta" in opened.summary and opened.details["status"] == "needs_response"
    await billing.quiet()
    invoice = await invoice_of(billing)
    (shown,) = invoice["disputes"]
    assert (shown["status"], shown["reason"], shown["amount"]["amount"]) == (
        "needs_response",
        "fraudulent",
        charge["amount"],
    )
    assert shown["evidence_due_at"] and shown["closed_at"] is None
    # the default policy waits for the outcome
    assert billing.watcher.of(PROVISIONING_COMMANDS, "provisioning.suspend_account") == []

    await billing.sim.acontrol(
        "POST", f"/_sim/disputes/{dispute['id']}/close", json={"outcome": "lost"}
    )
    await billing.wait(PROVISIONING_COMMANDS, "provisioning.suspend_account")
    alerts = await billing.wait(OPS_ALERT, "ops.alert.raised", count=2)
    assert alerts[1].details["status"] == "lost" and alerts[1].severity == "critical"
    await billing.quiet()
    invoice = await invoice_of(billing)
    assert invoice["disputes"][0]["status"] == "lost" and invoice["disputes"][0]["closed_at"]
    suspended = await billing.ask("subscriptions.get", {"subscription_id": sub["id"]})
    assert suspended["status"] == "suspended"
    # every event again changes nothing (deduplicated by event id, and by state)
    for event in (await billing.sim.state())["events"]:
        if event["type"].startswith("charge.dispute."):
            await billing.sim.acontrol("POST", f"/_sim/events/{event['id']}/deliver")
    await billing.quiet()
    assert len(billing.watcher.of(OPS_ALERT)) == 2
    assert len(billing.watcher.of(PROVISIONING_COMMANDS, "provisioning.suspend_account")) == 1


async def test_with_suspend_on_open_a_won_dispute_brings_the_service_back(
    suspend_on_open: Harness,
) -> None:
    h = suspend_on_open
    sub, charge = await paid_charge(h)
    dispute = await h.sim.acontrol("POST", f"/_sim/charges/{charge['id']}/dispute", json={})
    await h.wait(PROVISIONING_COMMANDS, "provisioning.suspend_account")
    await h.wait(BILLING_SUBSCRIPTION, "billing.subscription.suspended")
    await h.sim.acontrol("POST", f"/_sim/disputes/{dispute['id']}/close", json={"outcome": "won"})
    await h.wait(PROVISIONING_COMMANDS, "provisioning.unsuspend_account")
    await h.quiet()
    back = await h.ask("subscriptions.get", {"subscription_id": sub["id"]})
    assert back["status"] == "active"
    invoice = await invoice_of(h)
    assert invoice["disputes"][0]["status"] == "won"
