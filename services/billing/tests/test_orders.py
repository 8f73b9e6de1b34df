"""An order becomes an invoice; paying it by card creates the service and
its add-ons — through the real broker, database and Stripe simulator."""

from __future__ import annotations

from billing_kit import Harness, place_order

from hospeda.contracts.billing import PayInvoice, PaymentMethod
from hospeda.contracts.topics import (
    BILLING_INVOICE,
    BILLING_ORDER,
    BILLING_PAYMENT,
    BILLING_SUBSCRIPTION,
    NOTIFY_COMMANDS,
    PROVISIONING_COMMANDS,
)


async def test_order_invoice_card_payment_provisions_the_service_and_its_addons(
    billing: Harness,
) -> None:
    await billing.seed_catalog()
    order = place_order(plan="profissional", addons=("backup-pro", "ssl"))
    await billing.send(order)

    (placed,) = await billing.wait(BILLING_ORDER, "billing.order.placed")
    (issued,) = await billing.wait(BILLING_INVOICE, "billing.invoice.issued")
    assert placed.total.amount == 3990 + 1490 + 990 == issued.total.amount
    assert [line.product_code for line in issued.lines] == ["profissional", "backup-pro", "ssl"]
    assert issued.number.endswith("-000001")
    assert not billing.watcher.of(PROVISIONING_COMMANDS)  # nothing before it is paid

    invoice = await billing.ask("invoices.get", {"invoice_id": str(issued.invoice_id)})
    assert invoice["status"] == "open" and invoice["amount_due"] == {
        "amount": 6470,
        "currency": "BRL",
    }

    await billing.send(
        PayInvoice(
            invoice_id=issued.invoice_id,
            method=PaymentMethod.CARD,
            payment_method_ref="pm_card_visa",
        )
    )
    (paid,) = await billing.wait(BILLING_INVOICE, "billing.invoice.paid")
    assert paid.amount_paid.amount == 6470
    (create,) = await billing.wait(PROVISIONING_COMMANDS, "provisioning.create_account")
    assert create.domain == order.domain
    assert create.whm_package == "hospeda_profissional"
    assert create.contact_email == "dono@exemplo.com.br"
    enabled = await billing.wait(PROVISIONING_COMMANDS, "provisioning.enable_addon", count=2)
    assert {e.addon_code for e in enabled} == {"backup-pro", "ssl"}
    assert {e.service_id for e in enabled} == {create.service_id}

    await billing.quiet()
    commands = billing.watcher.envelopes(PROVISIONING_COMMANDS)
    assert [c.type for c in commands] == [
        "provisioning.create_account",
        "provisioning.enable_addon",
        "provisioning.enable_addon",
    ]
    assert all(c.company_id == billing.company_id for c in commands)
    activated = billing.watcher.of(BILLING_SUBSCRIPTION, "billing.subscription.activated")
    assert {a.product_code for a in activated} == {"profissional", "backup-pro", "ssl"}
    assert len(billing.watcher.of(BILLING_PAYMENT, "billing.payment.succeeded")) == 1
    templates = [n.template for n in billing.watcher.of(NOTIFY_COMMANDS)]
    assert templates == ["invoice-issued", "invoice-paid"]
    notice, thanks = billing.watcher.of(NOTIFY_COMMANDS)
    assert notice.recipient.company_roles == ("owner", "billing")
    # what notify's invoice templates fill in
    assert notice.data["number"] == issued.number
    assert (notice.data["amount_cents"], notice.data["currency"]) == (6470, "BRL")
    assert notice.data["due_date"] == f"{issued.due_at:%d/%m/%Y}"
    assert notice.data["link"].endswith(f"/faturas/{issued.invoice_id}")
    assert thanks.data["amount_cents"] == 6470

    state = await billing.sim.state()
    assert len(state["charges"]) == 1 and state["charges"][0]["amount"] == 6470

    invoice = await billing.ask("invoices.get", {"invoice_id": str(issued.invoice_id)})
    assert invoice["status"] == "paid"
    assert invoice["payments"][0]["status"] == "succeeded"
    subscriptions = await billing.ask("subscriptions.list")
    assert {s["status"] for s in subscriptions["items"]} == {"active"}
    got = await billing.ask("orders.get", {"order_id": str(order.order_id)})
    assert got["status"] == "paid" and got["invoice"]["number"] == issued.number
