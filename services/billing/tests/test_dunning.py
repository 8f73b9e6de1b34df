"""The dunning timeline end to end on a controllable clock, with two billing
processes working at once: every step happens once."""

from __future__ import annotations

import asyncio
from datetime import datetime

from billing_kit import STAFF, Harness, active_service, payment_in, running_billing

from hospeda.contracts import Money, new_id
from hospeda.contracts.billing import PayInvoice, PaymentMethod, RecordPixPayment
from hospeda.contracts.topics import (
    BILLING_INVOICE,
    BILLING_SUBSCRIPTION,
    NOTIFY_COMMANDS,
    PROVISIONING_COMMANDS,
)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_the_dunning_timeline_runs_each_step_once_across_two_processes(
    billing: Harness, database_url: str, kafka_bootstrap: str
) -> None:
    payer, defaulter = billing.company_id, new_id()
    paying = await active_service(billing, plan="basico", addons=("backup-pro",), card=None)
    leaving = await active_service(billing, plan="profissional", card=None, company_id=defaulter)
    due = when(paying["period_end"])
    assert when(leaving["period_end"]) == due  # same day: one timeline for both

    async with running_billing(database_url, kafka_bootstrap, None) as other:
        other.clock.set(billing.clock.now())
        clocks = (billing.clock, other.clock)

        async def at(days_from_due: float) -> None:
            """Both processes see the same time and work on it at once."""
            for clock in clocks:
                clock.set(due + (days_from_due * (due - due.replace(day=due.day - 1))))
            await asyncio.gather(
                billing.billing.tick(), other.billing.tick(), billing.billing.tick()
            )
            await billing.quiet()

        def notes(company: object) -> list[tuple[str, object]]:
            return [
                (
                    e.payload.template,
                    e.payload.data.get("days_overdue", e.payload.data.get("days_until_due")),
                )
                for e in billing.watcher.envelopes(NOTIFY_COMMANDS)
                if e.company_id == company
            ]

        def commands(company: object) -> list[str]:
            return [
                e.type
                for e in billing.watcher.envelopes(PROVISIONING_COMMANDS)
                if e.company_id == company
            ]

        await at(-8)
        assert len(billing.watcher.of(BILLING_INVOICE, "billing.invoice.issued")) == 2  # the orders
        await at(-7)
        renewals = billing.watcher.of(BILLING_INVOICE, "billing.invoice.issued")[2:]
        assert len(renewals) == 2 and {r.due_at for r in renewals} == {due}
        await at(-3)
        await at(-2)
        await at(0)
        await at(1)
        await at(3)
        await at(6)
        assert "provisioning.suspend_account" not in commands(payer)
        await at(7)
        await at(7.5)
        assert commands(payer)[-1] == "provisioning.suspend_account"
        assert commands(defaulter)[-1] == "provisioning.suspend_account"

        # the payer pays: the service comes back, and the next period starts where the last ended
        renewal = next(r for r in renewals if r.lines[0].product_code == "basico")
        await billing.send(PayInvoice(invoice_id=renewal.invoice_id, method=PaymentMethod.PIX))
        (pix,) = await payment_in(billing, renewal.invoice_id, "requires_action")
        await billing.send(
            RecordPixPayment(
                invoice_id=renewal.invoice_id,
                txid=pix["provider_reference"],
                amount=Money(amount=renewal.total.amount),
            ),
            actor=STAFF,
        )
        await billing.wait(PROVISIONING_COMMANDS, "provisioning.unsuspend_account")
        await billing.quiet()
        payer_notes, payer_commands = notes(payer), commands(payer)
        await at(20)
        await at(
            30
        )  # the defaulter's service ends (the payer's next renewal starts its own timeline)
        await at(31)

        expected_payer = [
            ("invoice-issued", None),  # the order
            ("invoice-paid", None),
            ("invoice-issued", None),  # the renewal, 7 days ahead
            ("invoice-issued", 3),  # reminder 3 days before
            ("invoice-overdue", 0),
            ("invoice-overdue", 1),
            ("invoice-overdue", 3),
            ("service-suspended", 7),
            ("invoice-paid", None),
        ]
        assert payer_notes == expected_payer
        assert notes(defaulter) == [*expected_payer[:-1]]
        assert (
            payer_commands
            == commands(payer)
            == [
                "provisioning.create_account",
                "provisioning.enable_addon",
                "provisioning.suspend_account",
                "provisioning.unsuspend_account",
            ]
        )
        assert commands(defaulter) == [
            "provisioning.create_account",
            "provisioning.suspend_account",
            "provisioning.terminate_account",
        ]
        events = [
            (e.type.rsplit(".", 1)[1], e.company_id)
            for e in billing.watcher.envelopes(BILLING_SUBSCRIPTION)
            if e.type != "billing.subscription.activated"
        ]
        assert sorted(events, key=str) == sorted(
            [
                ("suspended", payer),
                ("suspended", payer),  # the plan and its add-on
                ("renewed", payer),
                ("renewed", payer),
                ("reactivated", payer),
                ("reactivated", payer),
                ("suspended", defaulter),
                ("terminated", defaulter),
            ],
            key=str,
        )
        first_renewals = {r.invoice_id for r in renewals}
        overdue = [
            (e.payload.days_overdue, e.company_id)
            for e in billing.watcher.envelopes(BILLING_INVOICE, "billing.invoice.overdue")
            if e.payload.invoice_id in first_renewals
        ]
        assert sorted(overdue, key=str) == sorted(
            [(d, c) for d in (0, 1, 3) for c in (payer, defaulter)], key=str
        )
        (voided,) = billing.watcher.of(BILLING_INVOICE, "billing.invoice.voided")
        assert "30" in voided.reason
        final = await billing.ask("subscriptions.list")
        assert {s["status"] for s in final["items"]} == {"active"}
        assert all(when(s["period_start"]) == due for s in final["items"])
        gone = await billing.ask("subscriptions.list", company_id=defaulter)
        assert {s["status"] for s in gone["items"]} == {"terminated"}
