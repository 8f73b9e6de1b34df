"""Add-ons bought later, upgrades and downgrades with proration,
cancellation, renewals and the automatic charge of a saved card."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from billing_kit import Harness, active_service, payment_in

from hospeda.billing.domain import addon_charge, prorate
from hospeda.contracts.billing import (
    CancelSubscription,
    ChangeSubscription,
    PayInvoice,
    PaymentMethod,
    PurchaseAddon,
)
from hospeda.contracts.topics import (
    BILLING_INVOICE,
    BILLING_PAYMENT,
    BILLING_SUBSCRIPTION,
    NOTIFY_COMMANDS,
    PROVISIONING_COMMANDS,
)
from hospeda.runtime.errors import QueryFailed


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_an_addon_bought_later_is_invoiced_then_enabled_once(billing: Harness) -> None:
    plan = await active_service(billing, plan="basico")
    buy = PurchaseAddon(service_subscription_id=plan["id"], addon_code="backup-pro")
    await billing.send(buy)
    await billing.send(buy)  # twice: still one add-on, one invoice
    invoices = await billing.wait(BILLING_INVOICE, "billing.invoice.issued", count=2)
    addon_invoice = invoices[-1]
    assert [line.product_code for line in addon_invoice.lines] == ["backup-pro"]
    await billing.send(PayInvoice(invoice_id=addon_invoice.invoice_id, method=PaymentMethod.CARD))
    (enable,) = await billing.wait(PROVISIONING_COMMANDS, "provisioning.enable_addon")
    assert enable.addon_code == "backup-pro" and str(enable.service_id) == plan["service_id"]
    await billing.quiet()
    assert len(billing.watcher.of(BILLING_INVOICE, "billing.invoice.issued")) == 2
    got = await billing.ask("subscriptions.get", {"subscription_id": plan["id"]})
    assert [(a["product_code"], a["status"]) for a in got["addons"]] == [("backup-pro", "active")]


async def test_an_upgrade_charges_the_prorated_difference_and_applies_when_paid(
    billing: Harness,
) -> None:
    plan = await active_service(billing, plan="basico")
    await billing.advance(days=10, hours=3)
    await billing.send(ChangeSubscription(subscription_id=plan["id"], to_code="profissional"))
    invoices = await billing.wait(BILLING_INVOICE, "billing.invoice.issued", count=2)
    change = invoices[-1]
    expected = prorate(
        old_price=1990,
        new_price=3990,
        period_start=when(plan["period_start"]),
        period_end=when(plan["period_end"]),
        at=billing.clock.now(),
    )
    assert [line.amount.amount for line in change.lines] == [
        expected.remaining_charge,
        -expected.unused_credit,
    ]
    assert change.total.amount == expected.net > 0
    assert billing.watcher.of(PROVISIONING_COMMANDS, "provisioning.change_package") == []

    # the card saved with the first payment is charged for it
    (changed,) = await billing.wait(BILLING_SUBSCRIPTION, "billing.subscription.changed")
    assert changed.proration.amount == expected.net and changed.to_code == "profissional"
    (package,) = await billing.wait(PROVISIONING_COMMANDS, "provisioning.change_package")
    assert package.whm_package == "hospeda_profissional"
    got = await billing.ask("subscriptions.get", {"subscription_id": plan["id"]})
    assert got["product_code"] == "profissional" and got["price"]["amount"] == 3990


async def test_a_downgrade_applies_now_and_the_difference_becomes_credit(billing: Harness) -> None:
    plan = await active_service(billing, plan="profissional", addons=("email-business",), card=None)
    await billing.advance(days=20)
    await billing.send(ChangeSubscription(subscription_id=plan["id"], to_code="basico"))
    (changed,) = await billing.wait(BILLING_SUBSCRIPTION, "billing.subscription.changed")
    expected = prorate(
        old_price=3990,
        new_price=1990,
        period_start=when(plan["period_start"]),
        period_end=when(plan["period_end"]),
        at=billing.clock.now(),
    )
    assert changed.proration.amount == expected.net < 0
    (package,) = await billing.wait(PROVISIONING_COMMANDS, "provisioning.change_package")
    assert package.plan_code == "basico"
    credit = await billing.ask("credit.get")
    assert credit["balances"] == [{"amount": -expected.net, "currency": "BRL"}]

    # an add-on changes only to another tier of its family (what provisioning can do)
    addon = plan["addons"][0]
    with pytest.raises(QueryFailed) as quoted:  # the quote says so before anything is sent
        await billing.ask(
            "subscriptions.quote",
            {"subscription_id": addon["id"], "action": "change", "to_code": "seguranca"},
        )
    assert "mesma família" in str(quoted.value)
    await billing.send(ChangeSubscription(subscription_id=addon["id"], to_code="seguranca"))
    refused = await billing.dead_letter()
    assert "mesma família" in refused and "same" not in refused.split("/")[0]
    await billing.send(ChangeSubscription(subscription_id=addon["id"], to_code="email-pro"))
    (change_addon,) = await billing.wait(
        PROVISIONING_COMMANDS, "provisioning.change_addon", timeout=20
    )
    assert (change_addon.from_code, change_addon.to_code) == ("email-business", "email-pro")


async def test_cancel_at_period_end_stops_renewal_and_removes_the_service_then(
    billing: Harness,
) -> None:
    plan = await active_service(billing, plan="basico", addons=("ssl",))
    await billing.send(CancelSubscription(subscription_id=plan["id"], at_period_end=True))
    (cancelled,) = await billing.wait(BILLING_SUBSCRIPTION, "billing.subscription.cancelled")
    assert cancelled.at_period_end and cancelled.effective_at == when(plan["period_end"])
    await billing.quiet()
    await billing.advance(days=25)  # past the renewal date: no renewal invoice
    await billing.quiet()
    assert len(billing.watcher.of(BILLING_INVOICE, "billing.invoice.issued")) == 1
    assert billing.watcher.of(PROVISIONING_COMMANDS, "provisioning.terminate_account") == []
    await billing.advance(days=7)
    (terminate,) = await billing.wait(PROVISIONING_COMMANDS, "provisioning.terminate_account")
    assert str(terminate.service_id) == plan["service_id"]
    await billing.quiet()
    ended = await billing.ask("subscriptions.list")
    assert {s["status"] for s in ended["items"]} == {"cancelled"}
    assert billing.watcher.of(PROVISIONING_COMMANDS, "provisioning.disable_addon") == []


async def test_cancelling_an_addon_now_turns_only_it_off(billing: Harness) -> None:
    plan = await active_service(billing, plan="basico", addons=("ssl", "backup-pro"))
    backup = next(a for a in plan["addons"] if a["product_code"] == "backup-pro")
    await billing.send(
        CancelSubscription(subscription_id=backup["id"], at_period_end=False, reason="não uso")
    )
    (disable,) = await billing.wait(PROVISIONING_COMMANDS, "provisioning.disable_addon")
    assert disable.addon_code == "backup-pro"
    await billing.quiet()
    got = await billing.ask("subscriptions.get", {"subscription_id": plan["id"]})
    assert got["status"] == "active"
    assert sorted((a["product_code"], a["status"]) for a in got["addons"]) == [
        ("backup-pro", "cancelled"),
        ("ssl", "active"),
    ]


async def test_renewal_is_invoiced_ahead_and_the_saved_card_is_charged(billing: Harness) -> None:
    plan = await active_service(billing, plan="basico", addons=("ssl",))
    period_end = when(plan["period_end"])
    await billing.advance(days=(period_end - billing.clock.now()).days - 8)
    await billing.quiet()
    assert len(billing.watcher.of(BILLING_INVOICE, "billing.invoice.issued")) == 1  # not yet
    await billing.advance(days=1, hours=1)  # 7 days before the due date
    renewal = (await billing.wait(BILLING_INVOICE, "billing.invoice.issued", count=2))[-1]
    assert renewal.due_at == period_end
    assert [line.product_code for line in renewal.lines] == ["basico", "ssl"]
    assert {line.period_start for line in renewal.lines} == {period_end}
    await billing.quiet()
    assert len(billing.watcher.of(BILLING_PAYMENT, "billing.payment.succeeded")) == 1

    await billing.advance(days=6)  # a day before it is due: the saved card pays it
    await billing.wait(BILLING_INVOICE, "billing.invoice.paid", count=2)
    renewed = await billing.wait(BILLING_SUBSCRIPTION, "billing.subscription.renewed", count=2)
    assert {r.period_start for r in renewed} == {period_end}
    await billing.quiet()
    got = await billing.ask("subscriptions.get", {"subscription_id": plan["id"]})
    assert when(got["period_start"]) == period_end and got["renewal_invoice_id"] is None
    assert "invoice-overdue" not in [n.template for n in billing.watcher.of(NOTIFY_COMMANDS)]
    intents = await billing.sim.intents()
    assert [i["status"] for i in intents] == ["succeeded", "succeeded"]
    assert intents[1]["customer"] == intents[0]["customer"]
    await payment_in(billing, renewal.invoice_id, "succeeded")
    assert timedelta(0) < period_end - billing.clock.now() <= timedelta(days=1)


async def test_an_addon_bought_mid_period_pays_the_days_left_and_renews_with_its_service(
    billing: Harness,
) -> None:
    plan = await active_service(billing, plan="basico")
    await billing.advance(days=12, hours=5)
    quote = await billing.ask(
        "subscriptions.quote",
        {"subscription_id": plan["id"], "action": "add", "to_code": "backup-pro"},
    )
    full = quote["price"]["amount"]
    expected = addon_charge(
        full,
        same_cycle=True,
        period_start=when(plan["period_start"]),
        period_end=when(plan["period_end"]),
        at=billing.clock.now(),
    )
    assert 0 < expected < full and quote["charge_now"]["amount"] == expected
    assert when(quote["prorated_until"]) == when(plan["period_end"])

    await billing.send(PurchaseAddon(service_subscription_id=plan["id"], addon_code="backup-pro"))
    bought = (await billing.wait(BILLING_INVOICE, "billing.invoice.issued", count=2))[-1]
    (line,) = bought.lines
    assert line.amount.amount == expected and "proporcional" in line.description
    await billing.send(PayInvoice(invoice_id=bought.invoice_id, method=PaymentMethod.CARD))
    await billing.wait(PROVISIONING_COMMANDS, "provisioning.enable_addon")
    await billing.quiet()
    got = await billing.ask("subscriptions.get", {"subscription_id": plan["id"]})
    (addon,) = got["addons"]
    assert addon["period_end"] == plan["period_end"]  # renews with its service

    # the renewal: one invoice, both at their full prices, for the same next period
    period_end = when(plan["period_end"])
    await billing.advance(days=(period_end - billing.clock.now()).days - 6)
    renewal = (await billing.wait(BILLING_INVOICE, "billing.invoice.issued", count=3))[-1]
    assert [(x.product_code, x.amount.amount) for x in renewal.lines] == [
        ("basico", plan["price"]["amount"]),
        ("backup-pro", full),
    ]
    assert len({(x.period_start, x.period_end) for x in renewal.lines}) == 1


async def test_an_addon_paid_after_its_service_renewed_is_due_for_the_new_period(
    billing: Harness,
) -> None:
    plan = await active_service(billing, plan="basico")
    await billing.advance(days=27)
    await billing.send(PurchaseAddon(service_subscription_id=plan["id"], addon_code="backup-pro"))
    (bought,) = await billing.wait(
        BILLING_INVOICE,
        "billing.invoice.issued",
        where=lambda i: [x.product_code for x in i.lines] == ["backup-pro"],
    )
    (line,) = bought.lines
    old_end = when(plan["period_end"])
    assert line.period_end == old_end

    # the service renews (its saved card pays) before the add-on's invoice is paid
    await billing.advance(days=(old_end - billing.clock.now()).days + 1)
    await billing.wait(BILLING_SUBSCRIPTION, "billing.subscription.renewed")
    await billing.send(PayInvoice(invoice_id=bought.invoice_id, method=PaymentMethod.CARD))
    await billing.wait(PROVISIONING_COMMANDS, "provisioning.enable_addon")
    await billing.quiet()
    await billing.advance(hours=1)
    # paid for the days up to the old renewal only: the new period is invoiced now
    renewals = [
        i
        for i in billing.watcher.of(BILLING_INVOICE, "billing.invoice.issued")
        if [x.product_code for x in i.lines] == ["backup-pro"] and i.invoice_id != bought.invoice_id
    ]
    assert len(renewals) == 1
    (due,) = renewals[0].lines
    assert due.period_start == old_end and due.amount.amount == 1490
    got = await billing.ask("subscriptions.get", {"subscription_id": plan["id"]})
    assert due.period_end == when(got["period_end"])  # and from then on, with its service
