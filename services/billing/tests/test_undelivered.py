"""A paid service that provisioning could not deliver: billing hears it from
``provisioning.service.v1`` (a real broker), stops renewing it, brings it back
when an operator's retry delivers it (the lost days added to the period), and
gives the money back when it is cancelled — by refund or as credit, as
``BILLING_UNDELIVERED_POLICY`` says — telling the customer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from billing_kit import STAFF, USER, Harness, StripeSim, active_service, running_billing

from hospeda.contracts import Actor, Envelope, Payload, new_id
from hospeda.contracts.billing import CancelSubscription
from hospeda.contracts.provisioning import ServiceActivated, ServiceProvisioningFailed
from hospeda.contracts.topics import (
    BILLING_INVOICE,
    BILLING_SUBSCRIPTION,
    NOTIFY_COMMANDS,
    PROVISIONING_COMMANDS,
    PROVISIONING_SERVICE,
)
from hospeda.runtime.broker import publish

PROVISIONING = Actor.system("provisioning")


async def report(h: Harness, payload: Payload, service_id: str) -> None:
    """What provisioning would publish about ``service_id``."""
    envelope = Envelope.of(payload, actor=PROVISIONING, company_id=h.company_id)
    await publish(h.producer, envelope, topic=PROVISIONING_SERVICE, key=UUID(service_id))


def gave_up(sub: dict[str, Any], *, kind: str = "create-account", addon: str | None = None) -> Any:
    return ServiceProvisioningFailed(
        service_id=sub["service_id"],
        job_id=new_id(),
        reason="WHM: conta não criada (timeout) / account not created",
        job_kind=kind,
        domain=sub["domain"],
        addon_code=addon,
    )


async def subscription(h: Harness, subscription_id: str) -> dict[str, Any]:
    return await h.ask("subscriptions.get", {"subscription_id": subscription_id})  # type: ignore[no-any-return]


def notices(h: Harness, template: str) -> list[Any]:
    return [n for n in h.watcher.of(NOTIFY_COMMANDS) if n.template == template]


async def test_an_undelivered_plan_is_not_renewed_and_its_money_comes_back_when_cancelled(
    billing: Harness,
) -> None:
    sub = await active_service(billing, addons=("backup-pro",))
    (paid,) = billing.watcher.of(BILLING_INVOICE, "billing.invoice.paid")
    failure = gave_up(sub)
    await report(billing, failure, sub["service_id"])
    await report(billing, failure, sub["service_id"])  # a redelivery changes nothing
    (undelivered,) = await billing.wait(BILLING_SUBSCRIPTION, "billing.subscription.undelivered")
    assert undelivered.subscription_id == UUID(sub["id"]) and undelivered.job_id == failure.job_id
    await billing.quiet()
    assert len(billing.watcher.of(BILLING_SUBSCRIPTION, "billing.subscription.undelivered")) == 1
    assert (await subscription(billing, sub["id"]))["status"] == "provisioning_failed"

    # past its renewal date and beyond: no renewal invoice, no dunning
    await billing.advance(days=40)
    await billing.quiet()
    assert len(billing.watcher.of(BILLING_INVOICE, "billing.invoice.issued")) == 1
    assert notices(billing, "invoice-overdue") == []

    # asked before cancelling, billing says what would come back: plan and add-on
    quote = await billing.ask(
        "subscriptions.quote", {"subscription_id": sub["id"], "action": "cancel"}
    )
    assert quote["given_back"] == {"amount": paid.amount_paid.amount, "currency": "BRL"}

    # the operator gives up too: the plan and its add-on end, the whole invoice comes back
    await billing.send(
        CancelSubscription(subscription_id=sub["id"], at_period_end=True, reason="WHM fora"),
        actor=STAFF,
    )
    (refunded,) = await billing.wait(BILLING_INVOICE, "billing.invoice.refunded")
    assert refunded.invoice_id == paid.invoice_id
    assert refunded.amount.amount == paid.amount_paid.amount and refunded.fully_refunded
    await billing.quiet()
    assert (await subscription(billing, sub["id"]))["status"] == "cancelled"
    ended = billing.watcher.of(BILLING_SUBSCRIPTION, "billing.subscription.cancelled")
    assert len(ended) == 2 and all(not e.at_period_end for e in ended)  # plan and add-on, at once
    assert [
        c.service_id
        for c in billing.watcher.of(PROVISIONING_COMMANDS, "provisioning.terminate_account")
    ] == [UUID(sub["service_id"])]
    (told,) = notices(billing, "undelivered-refunded")
    assert (
        told.data["amount_cents"] == paid.amount_paid.amount
        and told.data["domain"] == sub["domain"]
    )
    assert (await billing.sim.state())["refunds"][0]["amount"] == paid.amount_paid.amount

    # cancelling again gives nothing back twice
    await billing.send(CancelSubscription(subscription_id=sub["id"], at_period_end=False))
    await billing.quiet()
    assert len(billing.watcher.of(BILLING_INVOICE, "billing.invoice.refunded")) == 1


async def test_a_retry_that_delivers_brings_it_back_and_a_lost_add_on_becomes_credit(
    database_url: str, kafka_bootstrap: str, stripe_sim: StripeSim
) -> None:
    async with running_billing(
        database_url, kafka_bootstrap, stripe_sim, undelivered_policy="credit"
    ) as h:
        sub = await active_service(h, addons=("backup-pro",))
        (addon,) = [
            a
            for a in h.watcher.of(BILLING_SUBSCRIPTION, "billing.subscription.activated")
            if a.kind == "addon"
        ]
        await report(h, gave_up(sub), sub["service_id"])
        await h.wait(BILLING_SUBSCRIPTION, "billing.subscription.undelivered")
        await h.quiet()
        await h.advance(days=3)

        # an operator retried the job and the account was created: active, 3 days later
        activated = ServiceActivated(
            service_id=sub["service_id"],
            domain=sub["domain"],
            server="whm1",
            server_ip="203.0.113.10",
            username="sitecom",
        )
        await report(h, activated, sub["service_id"])
        await h.wait(BILLING_SUBSCRIPTION, "billing.subscription.reactivated")
        await h.quiet()
        back = await subscription(h, sub["id"])
        assert back["status"] == "active"
        moved = datetime.fromisoformat(back["period_end"]) - datetime.fromisoformat(
            sub["period_end"]
        )
        assert timedelta(days=3) <= moved < timedelta(days=3, minutes=5)
        add_on = await subscription(h, str(addon.subscription_id))
        assert add_on["period_end"] == back["period_end"]  # still renewed with its plan

        # now the add-on's own job gives up; the customer cancels it: its price is credit
        await report(h, gave_up(sub, kind="enable-addon", addon="backup-pro"), sub["service_id"])
        await h.wait(BILLING_SUBSCRIPTION, "billing.subscription.undelivered", count=2)
        await h.quiet()
        assert (await subscription(h, str(addon.subscription_id)))[
            "status"
        ] == "provisioning_failed"
        assert (await subscription(h, sub["id"]))["status"] == "active"
        await h.send(CancelSubscription(subscription_id=addon.subscription_id), actor=USER)
        await h.wait(BILLING_SUBSCRIPTION, "billing.subscription.cancelled")
        await h.quiet()
        credit = await h.ask("credit.get")
        assert credit["balances"] == [{"amount": addon.price.amount, "currency": "BRL"}]
        (told,) = notices(h, "undelivered-credited")
        assert told.data["amount_cents"] == addon.price.amount
        assert h.watcher.of(BILLING_INVOICE, "billing.invoice.refunded") == []
        disabled = h.watcher.of(PROVISIONING_COMMANDS, "provisioning.disable_addon")
        assert [d.addon_code for d in disabled] == ["backup-pro"]
