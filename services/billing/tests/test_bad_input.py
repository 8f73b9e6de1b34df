"""Bad input is refused with a clear reason (pt-BR, then English) and
changes nothing: negative amounts, unknown plans, another company's invoice."""

from __future__ import annotations

import pytest
from billing_kit import STAFF, Harness, ordered, place_order

from hospeda.billing.models import (
    CreditBalance,
    Invoice,
    Order,
    Payment,
    Product,
    Refund,
    Subscription,
)
from hospeda.contracts import Money, new_id
from hospeda.contracts.billing import (
    BillingCycle,
    PayInvoice,
    PaymentMethod,
    Price,
    ProductKind,
    PublishCatalogItem,
    RefundInvoice,
    VoidInvoice,
)
from hospeda.contracts.topics import BILLING_INVOICE
from hospeda.runtime.errors import QueryFailed


async def snapshot(h: Harness) -> dict[str, list]:
    tables = (Invoice, Order, Payment, Refund, Subscription, CreditBalance, Product)
    return {t.__tablename__: sorted(map(repr, await h.rows(t))) for t in tables}  # type: ignore[attr-defined]


async def test_an_unknown_plan_is_refused_and_nothing_is_created(billing: Harness) -> None:
    await billing.seed_catalog()
    before = await snapshot(billing)
    await billing.send(place_order(plan="platinum-ultra"))
    reason = await billing.dead_letter()
    assert "Plano desconhecido ou fora de venda: 'platinum-ultra' / unknown plan" in reason
    await billing.quiet()
    assert await snapshot(billing) == before
    assert billing.watcher.of(BILLING_INVOICE) == []


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ({"addons": ("ssl", "teleporte")}, "Adicional desconhecido ou fora de venda: 'teleporte'"),
        ({"domain": "not a domain"}, "Domínio inválido"),
        ({"email": None}, "Informe o e-mail de contato"),
        ({"cycle": BillingCycle.ONE_TIME}, "Planos são recorrentes"),
        ({"addons": ("ssl", "ssl")}, "Adicional repetido"),
    ],
)
async def test_an_order_that_breaks_a_rule_changes_nothing(
    billing: Harness, order: dict, message: str
) -> None:
    await billing.seed_catalog()
    before = await snapshot(billing)
    await billing.send(place_order(**order))
    assert message in await billing.dead_letter()
    await billing.quiet()
    assert await snapshot(billing) == before


async def test_negative_amounts_are_refused(billing: Harness) -> None:
    issued = await ordered(billing, plan="basico")
    await billing.send(
        PayInvoice(
            invoice_id=issued.invoice_id,
            method=PaymentMethod.CARD,
            payment_method_ref="pm_card_visa",
        )
    )
    await billing.wait(BILLING_INVOICE, "billing.invoice.paid")
    await billing.quiet()
    before = await snapshot(billing)

    await billing.send(
        RefundInvoice(invoice_id=issued.invoice_id, amount=Money(amount=-500), reason="estorno"),
        actor=STAFF,
    )
    assert "valor -500 inválido, deve ser maior que zero" in await billing.dead_letter()
    await billing.send(
        PublishCatalogItem(
            code="basico",
            kind=ProductKind.PLAN,
            name="Básico",
            prices=(Price(cycle=BillingCycle.MONTHLY, amount=Money(amount=-1990)),),
            whm_package="hospeda_basico",
        ),
        actor=STAFF,
    )
    assert "valor -1990 inválido" in await billing.dead_letter()
    await billing.send(
        RefundInvoice(invoice_id=issued.invoice_id, amount=Money(amount=999_999), reason="demais"),
        actor=STAFF,
    )
    assert "maior que o disponível" in await billing.dead_letter()
    await billing.quiet()
    assert await snapshot(billing) == before
    assert len(billing.watcher.dead) == 3


async def test_another_companys_invoice_is_not_found_like_a_missing_one(billing: Harness) -> None:
    issued = await ordered(billing, plan="basico")
    stranger = new_id()
    before = await snapshot(billing)

    await billing.send(
        PayInvoice(
            invoice_id=issued.invoice_id,
            method=PaymentMethod.CARD,
            payment_method_ref="pm_card_visa",
        ),
        company_id=stranger,
    )
    theirs = await billing.dead_letter()
    await billing.send(
        PayInvoice(
            invoice_id=new_id(), method=PaymentMethod.CARD, payment_method_ref="pm_card_visa"
        ),
        company_id=stranger,
    )
    missing = await billing.dead_letter()
    assert theirs == missing == "NotFound: Fatura não encontrada / Invoice not found"
    await billing.send(
        VoidInvoice(invoice_id=issued.invoice_id, reason="não quero"), company_id=stranger
    )
    assert await billing.dead_letter() == missing
    await billing.quiet()
    assert await snapshot(billing) == before

    with pytest.raises(QueryFailed) as other:
        await billing.ask(
            "invoices.get", {"invoice_id": str(issued.invoice_id)}, company_id=stranger
        )
    with pytest.raises(QueryFailed) as absent:
        await billing.ask("invoices.get", {"invoice_id": str(new_id())}, company_id=stranger)
    assert (
        (other.value.code, other.value.message)
        == (absent.value.code, absent.value.message)
        == (
            "not_found",
            "Fatura não encontrada / Invoice not found",
        )
    )
    assert (await billing.ask("invoices.list", company_id=stranger))["items"] == []
    assert (await billing.ask("invoices.get", {"invoice_id": str(issued.invoice_id)}))["id"] == str(
        issued.invoice_id
    )


async def test_customers_cannot_manage_the_catalog_or_refund(billing: Harness) -> None:
    issued = await ordered(billing, plan="basico")
    before = await snapshot(billing)
    await billing.send(
        PublishCatalogItem(
            code="gratis",
            kind=ProductKind.PLAN,
            name="Grátis",
            prices=(Price(cycle=BillingCycle.MONTHLY, amount=Money(amount=0)),),
            whm_package="pkg",
        )
    )
    assert "Só a equipe pode mudar o catálogo" in await billing.dead_letter()
    await billing.send(RefundInvoice(invoice_id=issued.invoice_id, reason="quero"))
    assert "Só a equipe pode reembolsar" in await billing.dead_letter()
    await billing.quiet()
    assert await snapshot(billing) == before
