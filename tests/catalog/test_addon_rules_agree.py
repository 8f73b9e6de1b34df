"""Billing sells, provisioning delivers: the two must agree on what exists.
Every add-on in the catalog is one provisioning knows, of the same family, and
every change between two of them is accepted by both services' rule or by
neither (billing's ``check_addon_change``, provisioning's
``addons.validate(..., same_family=True)``), so billing never sells a change
that provisioning then refuses for good."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from hospeda.billing.demo import DEMO_CATALOG
from hospeda.billing.domain import InvalidInput as BillingRefusal
from hospeda.billing.domain import addon_family, check_addon_change
from hospeda.contracts.billing import ProductKind
from hospeda.provisioning import addons
from hospeda.runtime.errors import PermanentError


@dataclass(frozen=True)
class Item:
    code: str
    family: str | None


SOLD = [Item(i.code, i.family) for i in DEMO_CATALOG if i.kind is ProductKind.ADDON]
RECURRING = [
    Item(i.code, i.family) for i in DEMO_CATALOG if i.kind is ProductKind.ADDON and i.recurring
]


def billing_allows(a: Item, b: Item) -> bool:
    try:
        check_addon_change(a, b)
    except BillingRefusal:
        return False
    return True


def provisioning_allows(a: Item, b: Item) -> bool:
    try:
        addons.validate(a.code, b.code, same_family=True)
    except PermanentError:
        return False
    return True


@pytest.mark.parametrize("item", SOLD, ids=lambda i: i.code)
def test_every_addon_sold_is_one_provisioning_delivers_in_the_same_family(item: Item) -> None:
    assert item.code in addons.ADDONS, f"billing sells {item.code}, provisioning has no such add-on"
    assert addon_family(item) == addons.ADDONS[item.code].family


@pytest.mark.parametrize(
    ("a", "b"), list(itertools.permutations(RECURRING, 2)), ids=lambda i: i.code
)
def test_a_change_is_allowed_by_both_or_by_neither(a: Item, b: Item) -> None:
    assert billing_allows(a, b) == provisioning_allows(a, b)


def test_the_catalog_has_a_change_to_sell() -> None:
    # the e-mail tiers: one family with two levels, so the rule is not vacuous
    allowed = [
        (a.code, b.code) for a, b in itertools.permutations(RECURRING, 2) if billing_allows(a, b)
    ]
    assert ("email-pro", "email-business") in allowed
    assert ("backup-pro", "seguranca") not in allowed
