"""Who holds a domain: a paid plan, always; an unpaid order only against its own
company and only until its invoice is due — so a free sign-up cannot squat a
domain, and another company learns nothing from someone's unpaid order. When
two companies pay for one domain, the first payment wins and the other's money
stays as credit."""

from __future__ import annotations

from typing import Any

from billing_kit import STAFF, Harness, payment_in, place_order

from hospeda.contracts import Money, new_id
from hospeda.contracts.billing import PayInvoice, PaymentMethod, PlaceOrder, RecordPixPayment
from hospeda.contracts.topics import BILLING_INVOICE, BILLING_SUBSCRIPTION, NOTIFY_COMMANDS


async def order(h: Harness, placed: PlaceOrder, company: Any = "default") -> Any:
    await h.send(placed, company_id=company)
    (issued,) = await h.wait(
        BILLING_INVOICE, "billing.invoice.issued", where=lambda p: p.order_id == placed.order_id
    )
    return issued


async def pay_by_card(h: Harness, invoice: Any, company: Any = "default") -> None:
    await h.send(
        PayInvoice(
            invoice_id=invoice.invoice_id,
            method=PaymentMethod.CARD,
            payment_method_ref="pm_card_visa",
        ),
        company_id=company,
    )


async def plan_active(h: Harness, domain: str) -> None:
    await h.wait(
        BILLING_SUBSCRIPTION,
        "billing.subscription.activated",
        where=lambda p: p.domain == domain and p.kind == "plan",
    )


async def test_an_unpaid_order_holds_its_domain_for_its_own_company_only(
    billing: Harness,
) -> None:
    await billing.seed_catalog()
    domain = f"padaria-{new_id().hex[-6:]}.com.br"
    ours = await order(billing, place_order(domain=domain))

    # the same company again: refused, pointing at the invoice already open
    await billing.send(place_order(domain=domain))
    refused = await billing.dead_letter()
    assert "pedido em aberto" in refused and ours.number in refused

    # another company is told nothing: its order goes through
    other = new_id()
    theirs = await order(billing, place_order(domain=domain), company=other)

    # they pay first, so the domain is theirs
    await pay_by_card(billing, theirs, company=other)
    await plan_active(billing, domain)
    # our invoice can no longer be paid, and the refusal does not say who holds it
    await pay_by_card(billing, ours)
    refused = await billing.dead_letter()
    assert "não está disponível" in refused and str(other) not in refused
    # nor ordered again, by anyone else
    await billing.send(place_order(domain=domain), company_id=new_id())
    assert "não está disponível" in await billing.dead_letter()
    # the holder itself hears that it has it already
    await billing.send(place_order(domain=domain), company_id=other)
    assert "Você já tem uma hospedagem" in await billing.dead_letter()
    await billing.quiet()
    assert (await billing.sim.state())["charges"][0]["amount"] == theirs.total.amount
    assert len((await billing.sim.state())["charges"]) == 1


async def test_a_payment_that_loses_the_race_for_a_domain_becomes_credit(
    billing: Harness,
) -> None:
    await billing.seed_catalog()
    domain = f"mercado-{new_id().hex[-6:]}.com.br"
    ours = await order(billing, place_order(domain=domain, addons=("backup-pro",)))
    await billing.send(PayInvoice(invoice_id=ours.invoice_id, method=PaymentMethod.PIX))
    (pix,) = await payment_in(billing, ours.invoice_id, "requires_action")

    other = new_id()
    theirs = await order(billing, place_order(domain=domain), company=other)
    await pay_by_card(billing, theirs, company=other)
    await plan_active(billing, domain)

    # our Pix arrives after their card: paid, but the domain went first to them
    await billing.send(
        RecordPixPayment(
            invoice_id=ours.invoice_id,
            txid=pix["provider_reference"],
            amount=Money(amount=ours.total.amount),
        ),
        actor=STAFF,
    )
    await billing.wait(
        BILLING_INVOICE, "billing.invoice.paid", where=lambda p: p.invoice_id == ours.invoice_id
    )
    await billing.quiet()
    activated = billing.watcher.of(BILLING_SUBSCRIPTION, "billing.subscription.activated")
    assert [a.domain for a in activated] == [domain]  # theirs only: neither our plan nor add-on
    credit = await billing.ask("credit.get")
    assert credit["balances"] == [{"amount": ours.total.amount, "currency": "BRL"}]
    told = [
        n
        for n in billing.watcher.of(NOTIFY_COMMANDS)
        if n.template == "undelivered-credited" and n.data.get("domain") == domain
    ]
    assert len(told) == 1


async def test_after_its_due_date_an_unpaid_order_no_longer_holds_the_domain(
    billing: Harness,
) -> None:
    await billing.seed_catalog()
    domain = f"oficina-{new_id().hex[-6:]}.com.br"
    await order(billing, place_order(domain=domain))
    await billing.advance(days=billing.billing.settings.order_due_days, hours=1)
    again = await order(billing, place_order(domain=domain))
    assert again.number
