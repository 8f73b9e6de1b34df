"""Staff manage the catalog; every change is an event the marketplace reads."""

from __future__ import annotations

from billing_kit import STAFF, Harness

from hospeda.billing.demo import DEMO_CATALOG
from hospeda.contracts import Money
from hospeda.contracts.billing import (
    BillingCycle,
    Price,
    ProductKind,
    PublishCatalogItem,
    RetireCatalogItem,
)
from hospeda.contracts.topics import BILLING_CATALOG

HOSTING = PublishCatalogItem(
    code="wordpress",
    kind=ProductKind.PLAN,
    name="WordPress",
    description="Otimizado para WordPress",
    prices=(
        Price(cycle=BillingCycle.MONTHLY, amount=Money(amount=2990), setup_fee=Money(amount=1000)),
        Price(cycle=BillingCycle.ANNUAL, amount=Money(amount=29900, currency="BRL")),
        Price(cycle=BillingCycle.QUARTERLY, amount=Money(amount=1500, currency="USD")),
    ),
    whm_package="hospeda_wp",
)


async def test_staff_publish_change_and_retire_items(billing: Harness) -> None:
    await billing.send(HOSTING, actor=STAFF, company_id=None)
    (published,) = await billing.wait(BILLING_CATALOG, "billing.catalog.item_published")
    assert published.whm_package == "hospeda_wp"
    assert published.prices[0].setup_fee == Money(amount=1000)
    assert published.prices[2].amount.currency == "USD"  # currency per price

    await billing.send(
        HOSTING.model_copy(
            update={"prices": (Price(cycle=BillingCycle.MONTHLY, amount=Money(amount=3490)),)}
        ),
        actor=STAFF,
        company_id=None,
    )
    changed = (await billing.wait(BILLING_CATALOG, "billing.catalog.item_published", count=2))[-1]
    assert [p.amount.amount for p in changed.prices] == [3490]
    listed = await billing.ask("catalog.list")
    (item,) = listed["items"]
    assert item["version"] == 2 and item["prices"][0]["amount"] == {
        "amount": 3490,
        "currency": "BRL",
    }

    await billing.send(RetireCatalogItem(code="wordpress"), actor=STAFF, company_id=None)
    await billing.wait(BILLING_CATALOG, "billing.catalog.item_retired")
    await billing.quiet()
    assert (await billing.ask("catalog.list"))["items"] == []
    staff_view = await billing.ask(
        "catalog.list", {"include_retired": True}, actor=STAFF, company_id=None
    )
    assert [i["active"] for i in staff_view["items"]] == [False]


async def test_the_demo_catalog_is_seeded_once_and_listed_by_page(billing: Harness) -> None:
    await billing.seed_catalog()
    await billing.seed_catalog()
    await billing.quiet()
    published = billing.watcher.of(BILLING_CATALOG, "billing.catalog.item_published")
    assert len(published) == len(DEMO_CATALOG) == 10
    plans = await billing.ask("catalog.list", {"kind": "plan"})
    assert [p["code"] for p in plans["items"]] == ["basico", "empresarial", "profissional"]
    assert {p["whm_package"] for p in plans["items"]} == {
        "hospeda_basico",
        "hospeda_empresarial",
        "hospeda_profissional",
    }
    first = await billing.ask("catalog.list", {"limit": 4})
    second = await billing.ask("catalog.list", {"limit": 4, "cursor": first["next_cursor"]})
    third = await billing.ask("catalog.list", {"limit": 4, "cursor": second["next_cursor"]})
    codes = [i["code"] for page in (first, second, third) for i in page["items"]]
    assert len(codes) == 10 == len(set(codes)) and third["next_cursor"] is None
    addons = {i["code"] for i in (await billing.ask("catalog.list", {"kind": "addon"}))["items"]}
    assert {"ssl", "backup-pro", "email-pro", "ip-dedicado", "seguranca"} <= addons
