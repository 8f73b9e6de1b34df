"""Billing's pure rules: rounding, periods, proration (property-based), the
invoice state machine, the dunning timeline and input checks."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hospeda.billing.domain import (
    DunningPolicy,
    InvalidInput,
    InvalidState,
    InvoiceStatus,
    Totals,
    add_months,
    addon_charge,
    allocated,
    check_amount,
    check_email,
    check_product,
    check_refund,
    dunning_steps,
    format_money,
    normalise_domain,
    period_end,
    prorate,
    round_half_up,
    totals,
    transition,
)
from hospeda.contracts.billing import BillingCycle, ProductKind

T0 = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
prices = st.integers(min_value=0, max_value=10_000_000)


# --- rounding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(5, 10, 1), (4, 10, 0), (15, 10, 2), (-5, 10, -1), (-4, 10, 0), (1990, 31, 64), (0, 7, 0)],
)
def test_round_half_up_rounds_halves_away_from_zero(
    numerator: int, denominator: int, expected: int
) -> None:
    assert round_half_up(numerator, denominator) == expected


@given(st.integers(-(10**12), 10**12), st.integers(1, 10**6))
def test_round_half_up_is_within_half_a_unit(numerator: int, denominator: int) -> None:
    rounded = round_half_up(numerator, denominator)
    assert abs(rounded * denominator - numerator) * 2 <= denominator


def test_money_is_shown_the_brazilian_way() -> None:
    assert format_money(123456) == "R$ 1.234,56"
    assert format_money(5) == "R$ 0,05"
    assert format_money(-1990) == "-R$ 19,90"
    assert format_money(100, "USD") == "USD 1.00"


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True])
def test_amounts_must_be_non_negative_integer_cents(bad: object) -> None:
    with pytest.raises(InvalidInput, match=r"centavos|cents"):
        check_amount(bad, what="preço")  # type: ignore[arg-type]


# --- periods ------------------------------------------------------------------------------------


def test_months_are_added_with_the_day_clamped_to_the_month() -> None:
    assert add_months(T0, 1) == datetime(2026, 2, 28, 9, 30, tzinfo=UTC)
    assert add_months(datetime(2028, 1, 31, tzinfo=UTC), 1) == datetime(2028, 2, 29, tzinfo=UTC)
    assert add_months(T0, 12) == datetime(2027, 1, 31, 9, 30, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 15, tzinfo=UTC), 3) == datetime(2027, 2, 15, tzinfo=UTC)


def test_periods_come_from_the_anchor_so_the_31st_comes_back() -> None:
    ends = [period_end(T0, BillingCycle.MONTHLY, n) for n in range(3)]
    assert [e.date().isoformat() for e in ends] == ["2026-02-28", "2026-03-31", "2026-04-30"]
    assert period_end(T0, BillingCycle.QUARTERLY, 0).date().isoformat() == "2026-04-30"
    assert period_end(T0, BillingCycle.SEMIANNUAL, 1).date().isoformat() == "2027-01-31"
    assert period_end(T0, BillingCycle.ANNUAL, 0).date().isoformat() == "2027-01-31"
    with pytest.raises(InvalidInput):
        period_end(T0, BillingCycle.ONE_TIME, 0)


# --- proration (rules 3-5) ------------------------------------------------------------------------


@given(price=prices, days=st.integers(1, 400), data=st.data())
def test_the_parts_of_any_split_of_a_period_add_up_to_the_price(
    price: int, days: int, data: st.DataObject
) -> None:
    cuts = sorted(data.draw(st.sets(st.integers(1, days - 1), max_size=10)) if days > 1 else [])
    bounds = [0, *cuts, days]
    parts = [
        allocated(price, b, days) - allocated(price, a, days) for a, b in itertools.pairwise(bounds)
    ]
    assert sum(parts) == price
    assert all(part >= 0 for part in parts)


@given(price=prices, days=st.integers(1, 400), data=st.data())
def test_allocation_is_monotonic_and_exact_at_the_ends(
    price: int, days: int, data: st.DataObject
) -> None:
    a = data.draw(st.integers(0, days))
    b = data.draw(st.integers(a, days))
    assert allocated(price, 0, days) == 0
    assert allocated(price, days, days) == price
    assert allocated(price, a, days) <= allocated(price, b, days)


@st.composite
def periods(draw: st.DrawFn) -> tuple[datetime, datetime, datetime]:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(
        minutes=draw(st.integers(0, 60 * 24 * 365 * 2))
    )
    cycle = draw(st.sampled_from([c for c in BillingCycle if c is not BillingCycle.ONE_TIME]))
    end = period_end(start, cycle, 0)
    at = start + (end - start) * draw(st.floats(0, 1, allow_nan=False))
    return start, end, at


@given(old=prices, new=prices, period=periods())
def test_a_change_gives_back_exactly_the_unused_part_and_charges_exactly_the_rest(
    old: int, new: int, period: tuple[datetime, datetime, datetime]
) -> None:
    start, end, at = period
    p = prorate(old_price=old, new_price=new, period_start=start, period_end=end, at=at)
    used_old = old - p.unused_credit
    used_new_if_whole = new - p.remaining_charge
    # what the customer ends up paying for the period: the old plan for the used
    # days plus the new plan for the rest — exactly, to the cent
    assert used_old + p.remaining_charge == old - p.unused_credit + p.remaining_charge
    assert old + p.net == used_old + p.remaining_charge
    assert used_old == allocated(old, p.used_days, p.period_days)
    assert used_new_if_whole == allocated(new, p.used_days, p.period_days)
    assert 0 <= p.unused_credit <= old and 0 <= p.remaining_charge <= new
    assert (p.net > 0) == (p.remaining_charge > p.unused_credit)


@given(a=prices, b=prices, c=prices, period=periods(), second=st.floats(0, 1))
def test_changing_twice_in_a_period_pays_each_plan_for_its_own_days(
    a: int, b: int, c: int, period: tuple[datetime, datetime, datetime], second: float
) -> None:
    start, end, at1 = period
    at2 = at1 + (end - at1) * second
    first = prorate(old_price=a, new_price=b, period_start=start, period_end=end, at=at1)
    then = prorate(old_price=b, new_price=c, period_start=start, period_end=end, at=at2)
    paid = a + first.net + then.net
    days = first.period_days
    k1, k2 = first.used_days, then.used_days
    expected = (
        allocated(a, k1, days)
        + (allocated(b, k2, days) - allocated(b, k1, days))
        + (c - allocated(c, k2, days))
    )
    assert paid == expected


@given(old=prices, new=prices, period=periods())
def test_changing_back_the_same_day_costs_nothing(
    old: int, new: int, period: tuple[datetime, datetime, datetime]
) -> None:
    start, end, at = period
    there = prorate(old_price=old, new_price=new, period_start=start, period_end=end, at=at)
    back = prorate(old_price=new, new_price=old, period_start=start, period_end=end, at=at)
    assert there.net + back.net == 0


@given(price=prices, period=periods(), later=st.floats(0, 1))
def test_an_addon_bought_mid_period_pays_exactly_the_days_left(
    price: int, period: tuple[datetime, datetime, datetime], later: float
) -> None:
    start, end, at = period
    assume(at < end)  # at the end the service renews: the add-on starts a period of its own
    charge = addon_charge(price, same_cycle=True, period_start=start, period_end=end, at=at)
    p = prorate(old_price=0, new_price=price, period_start=start, period_end=end, at=at)
    # the same rule as a plan change: what the used days would have cost is not charged
    assert charge == price - allocated(price, p.used_days, p.period_days)
    assert 0 <= charge <= price
    assert (
        addon_charge(price, same_cycle=True, period_start=start, period_end=end, at=start) == price
    )
    bought_later = min(at + (end - at) * later, end - timedelta(microseconds=1))
    assert (
        addon_charge(price, same_cycle=True, period_start=start, period_end=end, at=bought_later)
        <= charge
    )
    # on a cycle of its own, or past the period, it costs its price
    assert addon_charge(price, same_cycle=False, period_start=start, period_end=end, at=at) == price
    assert addon_charge(price, same_cycle=True, period_start=start, period_end=end, at=end) == price


def test_proration_by_hand() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    end = period_end(start, BillingCycle.MONTHLY, 0)  # 31 days
    p = prorate(
        old_price=1990,
        new_price=3990,
        period_start=start,
        period_end=end,
        at=start + timedelta(days=10, hours=13),
    )
    assert (p.period_days, p.used_days) == (31, 10)  # the day in progress is not used yet
    assert p.unused_credit == 1990 - round_half_up(1990 * 10, 31) == 1348
    assert p.remaining_charge == 3990 - round_half_up(3990 * 10, 31) == 2703
    assert p.net == 1355
    at_start = prorate(old_price=1990, new_price=3990, period_start=start, period_end=end, at=start)
    assert at_start.net == 2000


# --- invoices ---------------------------------------------------------------------------------------


def test_credit_is_used_before_charging_and_never_below_zero() -> None:
    assert totals([1990, 990], credit_available=500) == Totals(2980, 500, 2480)
    assert totals([1990], credit_available=5000) == Totals(1990, 1990, 0)
    assert totals([1990, -500], credit_available=0) == Totals(1490, 0, 1490)
    with pytest.raises(InvalidInput):
        totals([100, -500], credit_available=0)


def test_the_invoice_lifecycle() -> None:
    assert transition("draft", InvoiceStatus.OPEN) is InvoiceStatus.OPEN
    assert transition("open", InvoiceStatus.OVERDUE) is InvoiceStatus.OVERDUE
    assert transition("overdue", InvoiceStatus.PAID) is InvoiceStatus.PAID
    assert transition("paid", InvoiceStatus.PARTIALLY_REFUNDED)
    assert transition("partially_refunded", InvoiceStatus.REFUNDED)
    for current, target in [
        ("paid", InvoiceStatus.VOID),
        ("void", InvoiceStatus.PAID),
        ("refunded", InvoiceStatus.PARTIALLY_REFUNDED),
        ("open", InvoiceStatus.REFUNDED),
    ]:
        with pytest.raises(InvalidState, match=" / "):
            transition(current, target)


def test_refunds_are_checked() -> None:
    assert check_refund(status="paid", amount_paid=1000, amount_refunded=0, amount=None) == (
        1000,
        True,
    )
    assert check_refund(status="paid", amount_paid=1000, amount_refunded=0, amount=300) == (
        300,
        False,
    )
    assert check_refund(
        status="partially_refunded", amount_paid=1000, amount_refunded=300, amount=700
    ) == (700, True)
    with pytest.raises(InvalidInput, match="maior que o disponível"):
        check_refund(status="paid", amount_paid=1000, amount_refunded=300, amount=701)
    with pytest.raises(InvalidInput, match="maior que zero"):
        check_refund(status="paid", amount_paid=1000, amount_refunded=0, amount=-5)
    with pytest.raises(InvalidState, match="Só faturas pagas"):
        check_refund(status="open", amount_paid=0, amount_refunded=0, amount=None)


# --- dunning ------------------------------------------------------------------------------------------


def _steps(
    day: float, done: set[str], *, has_service: bool = True, card: bool = False
) -> list[str]:
    due = datetime(2026, 4, 10, tzinfo=UTC)
    return [
        s.name
        for s in dunning_steps(
            due_at=due,
            issued_at=due - timedelta(days=7),
            now=due + timedelta(days=day),
            done=done,
            policy=DunningPolicy(
                remind_before=(3,), remind_after=(1, 3), suspend_after=7, terminate_after=30
            ),
            has_service=has_service,
            auto_charge=card,
        )
    ]


def test_the_dunning_timeline_step_by_step() -> None:
    done: set[str] = set()
    timeline = {}
    for day in (-5, -3, -2.5, -1, 0, 1, 2, 3, 7, 8, 30, 31):
        steps = _steps(day, done, card=True)
        done |= set(steps)
        timeline[day] = steps
    assert timeline == {
        -5: [],
        -3: ["remind-before-3"],
        -2.5: [],
        -1: ["auto-charge"],
        0: ["overdue"],
        1: ["remind-after-1"],
        2: [],
        3: ["remind-after-3"],
        7: ["suspend"],
        8: [],
        30: ["terminate"],
        31: [],
    }


def test_a_clock_that_jumps_sends_one_reminder_not_a_burst() -> None:
    assert _steps(10, set()) == ["overdue", "remind-after-3", "suspend"]
    assert _steps(40, set(), has_service=False) == ["overdue", "remind-after-3", "expire"]


def test_no_reminder_right_after_issuing() -> None:
    due = datetime(2026, 4, 10, tzinfo=UTC)
    steps = dunning_steps(
        due_at=due,
        issued_at=due - timedelta(days=2),
        now=due - timedelta(days=2),
        done=set(),
        policy=DunningPolicy(),
        has_service=False,
        auto_charge=False,
    )
    assert steps == []


# --- input --------------------------------------------------------------------------------------


def test_domains_are_normalised_or_refused() -> None:
    assert normalise_domain(" Loja.COM.br. ") == "loja.com.br"
    assert normalise_domain("café.com.br") == "xn--caf-dma.com.br"
    for bad in ("localhost", "-a.com", "a..com", "exa mple.com", "a" * 64 + ".com", ""):
        with pytest.raises(InvalidInput, match="Domínio inválido"):
            normalise_domain(bad)


def test_emails_are_checked() -> None:
    assert check_email(" dono@loja.com.br ") == "dono@loja.com.br"
    with pytest.raises(InvalidInput):
        check_email("dono@loja")


def test_catalog_items_follow_the_rules() -> None:
    good = [{"cycle": "monthly", "amount": 1990, "currency": "BRL", "setup_fee": 0}]
    check_product(code="p", kind=ProductKind.PLAN, recurring=True, prices=good, whm_package="pkg")
    cases = [
        ({"prices": [{**good[0], "amount": -1}]}, "inválido"),
        ({"prices": [{**good[0], "setup_fee": -1}]}, "inválido"),
        ({"prices": good * 2}, "um preço por ciclo"),
        ({"prices": []}, "ao menos um preço"),
        ({"whm_package": None}, "pacote WHM"),
        ({"recurring": False}, "recorrentes"),
        ({"kind": ProductKind.ADDON}, "só planos"),
        ({"prices": [{**good[0], "currency": "real"}]}, "moeda"),
    ]
    for change, message in cases:
        args = {
            "code": "p",
            "kind": ProductKind.PLAN,
            "recurring": True,
            "prices": good,
            "whm_package": "pkg",
            **change,
        }
        with pytest.raises(InvalidInput, match=message):
            check_product(**args)  # type: ignore[arg-type]
