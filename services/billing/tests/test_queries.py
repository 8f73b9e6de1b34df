"""What the gateway reads: tenant from the envelope, pages with cursors."""

from __future__ import annotations

import pytest
from billing_kit import STAFF, USER, Harness, active_service, place_order

from hospeda.contracts import new_id
from hospeda.contracts.topics import BILLING_INVOICE
from hospeda.runtime.errors import QueryFailed


async def test_lists_page_by_cursor_and_stay_inside_the_company(billing: Harness) -> None:
    await active_service(billing, plan="basico", addons=("ssl",))
    for _ in range(3):
        await billing.send(place_order())
    other = new_id()
    await billing.send(place_order(), company_id=other)
    await billing.wait(BILLING_INVOICE, "billing.invoice.issued", count=5)
    await billing.quiet()

    pages, cursor = [], None
    while True:
        page = await billing.ask("invoices.list", {"limit": 2, "cursor": cursor})
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    invoices = [i for page in pages for i in page]
    assert [len(p) for p in pages] == [2, 2]
    assert len({i["id"] for i in invoices}) == 4
    assert {i["company_id"] for i in invoices} == {str(billing.company_id)}
    assert [i["number"] for i in invoices] == sorted((i["number"] for i in invoices), reverse=True)
    open_only = await billing.ask("invoices.list", {"status": "open"})
    assert len(open_only["items"]) == 3

    subs = await billing.ask("subscriptions.list", {"status": "active"})
    assert sorted(s["product_code"] for s in subs["items"]) == ["basico", "ssl"]
    payments = await billing.ask("payments.list")
    assert [p["status"] for p in payments["items"]] == ["succeeded"]
    assert (await billing.ask("credit.get"))["balances"] == []

    everyone = await billing.ask("invoices.list", {"limit": 50}, actor=STAFF, company_id=None)
    assert len(everyone["items"]) == 5
    with pytest.raises(QueryFailed) as refused:
        await billing.ask("invoices.list", actor=USER, company_id=None)
    assert refused.value.code == "invalid"
    with pytest.raises(QueryFailed) as bad:
        await billing.ask("invoices.get", {"invoice_id": "not-a-uuid"})
    assert bad.value.code == "invalid" and "UUID" in bad.value.message
