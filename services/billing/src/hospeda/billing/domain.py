"""Billing's pure rules: money and rounding, billing periods, proration,
the invoice state machine, the dunning timeline, and input checks.

No I/O here. Errors are types (``PermanentError`` subclasses from the
runtime, so a command that breaks a rule is dead-lettered with its text);
every text is Brazilian Portuguese first, then English.

Rounding rules (the only ones; tested in ``tests/test_domain.py``)
-----------------------------------------------------------------

1. Money is an integer number of cents with a currency. Prices are set in
   cents; nothing is ever a float.
2. A line's amount is ``quantity × unit amount``; an invoice's subtotal is
   the sum of its lines; nothing is rounded on a sum.
3. Time is billed by whole UTC days. In a period of ``D`` days, the part of
   a price ``P`` that pays for the first ``k`` days is
   ``allocated(P, k, D) = round_half_up(P × k / D)`` — one rounding, on a
   cumulative amount. The part for days ``[a, b)`` is
   ``allocated(P, b, D) − allocated(P, a, D)``, so the parts of any split of
   a period add up to ``P`` exactly (they telescope): no cent is lost or
   invented however many times a plan changes.
4. The day in progress counts as not yet used: a change at 13:00 on the
   5th day of a period has used 4 days.
5. An upgrade or downgrade after ``k`` used days: the customer gets back
   ``P_old − allocated(P_old, k, D)`` (the unused part of what they paid)
   and owes ``P_new − allocated(P_new, k, D)``; the difference is charged
   now when positive, and becomes account credit when negative.
6. ``round_half_up`` rounds halves away from zero (0.5 cent → 1 cent).
7. Account credit is used before charging, up to the invoice's subtotal;
   an invoice never goes below zero.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from hospeda.contracts.billing import BillingCycle, ProductKind
from hospeda.runtime.errors import NotFound, PermanentError


class BillingError(PermanentError):
    """A billing rule refused the request; the text says which and what to do."""


class InvalidInput(BillingError):
    """The request carries a value billing cannot accept."""


class InvalidState(BillingError):
    """The thing exists but is not in a state that allows this."""


class UnknownProduct(NotFound):
    """No such plan or add-on on sale."""


def invoice_not_found() -> NotFound:
    """The same answer for a missing invoice and another company's."""
    return NotFound("Fatura não encontrada / Invoice not found")


def subscription_not_found() -> NotFound:
    return NotFound("Assinatura não encontrada / Subscription not found")


# --- money -------------------------------------------------------------------------------

CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to an integer, halves away from zero."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return sign * quotient


def format_money(amount: int, currency: str = "BRL") -> str:
    """``R$ 1.234,56`` for BRL; ``USD 1,234.56`` style for others (display only)."""
    sign = "-" if amount < 0 else ""
    units, cents = divmod(abs(amount), 100)
    if currency == "BRL":
        return f"{sign}R$ {units:,}".replace(",", ".") + f",{cents:02d}"
    return f"{sign}{currency} {units:,}.{cents:02d}"


def check_amount(amount: int, *, what: str, allow_zero: bool = True) -> int:
    """An amount in cents that may not be negative."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidInput(
            f"{what}: o valor deve ser um inteiro em centavos / the amount must be integer cents"
        )
    if amount < 0 or (amount == 0 and not allow_zero):
        limit = (
            "maior que zero / greater than zero"
            if not allow_zero
            else "zero ou mais / zero or more"
        )
        raise InvalidInput(f"{what}: valor {amount} inválido, deve ser {limit} (centavos / cents)")
    return amount


# --- cycles and periods --------------------------------------------------------------------

MONTHS: dict[BillingCycle, int] = {
    BillingCycle.MONTHLY: 1,
    BillingCycle.QUARTERLY: 3,
    BillingCycle.SEMIANNUAL: 6,
    BillingCycle.ANNUAL: 12,
}


def add_months(instant: datetime, months: int) -> datetime:
    """``instant`` moved by whole months, the day clamped to the month's end
    (Jan 31 + 1 month = Feb 28/29)."""
    month_index = instant.month - 1 + months
    year, month = instant.year + month_index // 12, month_index % 12 + 1
    day = min(instant.day, calendar.monthrange(year, month)[1])
    return instant.replace(year=year, month=month, day=day)


def period_end(anchor: datetime, cycle: BillingCycle, number: int) -> datetime:
    """End of period ``number`` (0-based) of a subscription that started at
    ``anchor``. Computed from the anchor every time, so a subscription that
    started on the 31st renews on the 31st whenever the month has one."""
    if cycle not in MONTHS:
        raise InvalidInput("Um item avulso não tem período / a one-time item has no billing period")
    return add_months(anchor, MONTHS[cycle] * (number + 1))


def whole_days(start: datetime, end: datetime) -> int:
    """Whole days from ``start`` to ``end`` (never negative)."""
    return max(0, (end - start) // timedelta(days=1))


# --- proration ------------------------------------------------------------------------------


def allocated(price: int, days: int, period_days: int) -> int:
    """The part of ``price`` that pays for the first ``days`` of a period of
    ``period_days`` days (rule 3)."""
    if period_days <= 0:
        raise ValueError("a period has at least one day")
    days = min(max(days, 0), period_days)
    return round_half_up(price * days, period_days)


@dataclass(frozen=True)
class Proration:
    """What changing from one price to another part-way through a period costs."""

    period_days: int
    used_days: int
    unused_credit: int
    """What the customer paid for the days not used yet, at the old price."""
    remaining_charge: int
    """What the rest of the period costs at the new price."""

    @property
    def net(self) -> int:
        """Positive: charge now. Negative: becomes credit."""
        return self.remaining_charge - self.unused_credit


def prorate(
    *,
    old_price: int,
    new_price: int,
    period_start: datetime,
    period_end: datetime,
    at: datetime,
) -> Proration:
    """The proration of a change at ``at`` within ``[period_start, period_end)`` (rules 3-5)."""
    period_days = whole_days(period_start, period_end)
    if period_days <= 0:
        raise InvalidState("Período de cobrança vazio / empty billing period")
    used = min(whole_days(period_start, at), period_days)
    return Proration(
        period_days=period_days,
        used_days=used,
        unused_credit=old_price - allocated(old_price, used, period_days),
        remaining_charge=new_price - allocated(new_price, used, period_days),
    )


class HasFamily(Protocol):
    code: str
    family: str | None


def addon_family(product: HasFamily) -> str:
    """The family of an add-on: tiers of one family change into each other."""
    return product.family or product.code


def check_addon_change(from_product: HasFamily, to_product: HasFamily) -> None:
    """The one rule of add-on changes, the same provisioning applies (its
    ``addons.validate(..., same_family=True)``): only within a family."""
    if addon_family(from_product) != addon_family(to_product):
        raise InvalidInput(
            f"{from_product.code} só muda para outro nível da mesma família; para ter "
            f"{to_product.code}, contrate-o à parte / {from_product.code} only changes to another "
            f"tier of its family; buy {to_product.code} on its own"
        )


def addon_charge(
    price: int,
    *,
    same_cycle: bool,
    period_start: datetime | None,
    period_end: datetime | None,
    at: datetime,
) -> int:
    """What an add-on bought at ``at`` costs until its service's next renewal: on
    the service's cycle, the rest of the service's period by whole days (rule 3,
    the day in progress charged; from then on it renews with the service at its
    full price). On a cycle of its own, or on a service with no period, its full price."""
    if not same_cycle or period_start is None or period_end is None or period_end <= at:
        return price
    return prorate(
        old_price=0, new_price=price, period_start=period_start, period_end=period_end, at=at
    ).remaining_charge


# --- invoices -----------------------------------------------------------------------------


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    OVERDUE = "overdue"
    PAID = "paid"
    VOID = "void"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


UNPAID = (InvoiceStatus.OPEN, InvoiceStatus.OVERDUE)
"""Statuses that still wait for money."""

PAID_STATES = (InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_REFUNDED)
"""Statuses that still hold refundable money."""


class InvoiceKind(StrEnum):
    ORDER = "order"
    RENEWAL = "renewal"
    ADDON = "addon"
    CHANGE = "change"


_TRANSITIONS: dict[InvoiceStatus, tuple[InvoiceStatus, ...]] = {
    InvoiceStatus.DRAFT: (InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.VOID),
    InvoiceStatus.OPEN: (InvoiceStatus.PAID, InvoiceStatus.OVERDUE, InvoiceStatus.VOID),
    InvoiceStatus.OVERDUE: (InvoiceStatus.PAID, InvoiceStatus.VOID),
    InvoiceStatus.PAID: (InvoiceStatus.PARTIALLY_REFUNDED, InvoiceStatus.REFUNDED),
    InvoiceStatus.PARTIALLY_REFUNDED: (
        InvoiceStatus.PARTIALLY_REFUNDED,
        InvoiceStatus.REFUNDED,
    ),
    InvoiceStatus.VOID: (),
    InvoiceStatus.REFUNDED: (),
}

_STATUS_PT = {
    InvoiceStatus.DRAFT: "rascunho",
    InvoiceStatus.OPEN: "em aberto",
    InvoiceStatus.OVERDUE: "vencida",
    InvoiceStatus.PAID: "paga",
    InvoiceStatus.VOID: "cancelada",
    InvoiceStatus.PARTIALLY_REFUNDED: "parcialmente reembolsada",
    InvoiceStatus.REFUNDED: "reembolsada",
}


def status_text(status: str) -> str:
    """An invoice status in Portuguese and English: ``paga / paid``."""
    return f"{_STATUS_PT[InvoiceStatus(status)]} / {status}"


def transition(current: str, target: InvoiceStatus) -> InvoiceStatus:
    """Check that an invoice may go from ``current`` to ``target``."""
    status = InvoiceStatus(current)
    if target not in _TRANSITIONS[status]:
        raise InvalidState(
            f"A fatura está {_STATUS_PT[status]} e não pode ficar {_STATUS_PT[target]} / "
            f"the invoice is {status.value} and cannot become {target.value}"
        )
    return target


@dataclass(frozen=True)
class Totals:
    subtotal: int
    credit_applied: int
    total: int


def totals(line_amounts: list[int], *, credit_available: int) -> Totals:
    """Subtotal of the lines, the credit used on it, and what is left to pay (rules 2, 7)."""
    subtotal = sum(line_amounts)
    if subtotal < 0:
        raise InvalidInput("Uma fatura não pode ser negativa / an invoice cannot be negative")
    credit = min(max(credit_available, 0), subtotal)
    return Totals(subtotal, credit, subtotal - credit)


def refundable(amount_paid: int, amount_refunded: int) -> int:
    return max(amount_paid - amount_refunded, 0)


def check_refund(
    *, status: str, amount_paid: int, amount_refunded: int, amount: int | None
) -> tuple[int, bool]:
    """How much to refund and whether that makes it full; refuses what is not refundable."""
    if InvoiceStatus(status) not in PAID_STATES:
        raise InvalidState(
            f"Só faturas pagas podem ser reembolsadas; esta está {_STATUS_PT[InvoiceStatus(status)]} / "
            f"only paid invoices can be refunded; this one is {status}"
        )
    left = refundable(amount_paid, amount_refunded)
    value = (
        left
        if amount is None
        else check_amount(amount, what="reembolso / refund", allow_zero=False)
    )
    if value > left:
        raise InvalidInput(
            f"Reembolso de {format_money(value)} maior que o disponível ({format_money(left)}) / "
            f"refund of {value} cents exceeds the {left} cents still refundable"
        )
    if value <= 0:
        raise InvalidState(
            "Nada a reembolsar nesta fatura / nothing left to refund on this invoice"
        )
    return value, value == left


def invoice_number(series: str, value: int) -> str:
    """The human number of an invoice: ``2026-000042``."""
    return f"{series}-{value:06d}"


# --- subscriptions -----------------------------------------------------------------------------


class SubscriptionStatus(StrEnum):
    PENDING = "pending"
    """Ordered, waiting for its first payment (never provisioned)."""
    ACTIVE = "active"
    SUSPENDED = "suspended"
    PROVISIONING_FAILED = "provisioning_failed"
    """Paid, but provisioning gave up: not renewed or dunned; an operator retries
    (back to active) or it is cancelled (what it cost is given back)."""
    CANCELLED = "cancelled"
    """Ended by the customer (at period end or at once)."""
    TERMINATED = "terminated"
    """Ended for non-payment."""


LIVE = (SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED)
HELD = (SubscriptionStatus.PENDING, *LIVE, SubscriptionStatus.PROVISIONING_FAILED)
"""Statuses that hold an add-on code on a service (not sold twice)."""
DOMAIN_HOLDERS = (*LIVE, SubscriptionStatus.PROVISIONING_FAILED)
"""A plan in these holds its domain: paid for. An unpaid order holds it only
against its own company, until its invoice is due."""

_SUBSCRIPTION_PT = {
    SubscriptionStatus.PENDING: "aguardando pagamento",
    SubscriptionStatus.ACTIVE: "ativa",
    SubscriptionStatus.SUSPENDED: "suspensa",
    SubscriptionStatus.PROVISIONING_FAILED: "com falha na ativação",
    SubscriptionStatus.CANCELLED: "cancelada",
    SubscriptionStatus.TERMINATED: "encerrada",
}


def subscription_status_text(status: str) -> str:
    """A subscription status in Portuguese and English: ``suspensa / suspended``."""
    return f"{_SUBSCRIPTION_PT[SubscriptionStatus(status)]} / {status}"


# --- dunning ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DunningPolicy:
    """When reminders, suspension and termination happen, in days from the due date."""

    remind_before: tuple[int, ...] = (3,)
    remind_after: tuple[int, ...] = (1, 3)
    suspend_after: int = 7
    terminate_after: int = 30
    auto_charge: bool = True
    charge_before: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.suspend_after < self.terminate_after:
            raise ValueError("suspension must come after the due date and before termination")


@dataclass(frozen=True)
class DunningStep:
    """One thing to do about an unpaid invoice, at most once."""

    name: str
    action: (
        str  # auto-charge | remind-before | overdue | remind-after | suspend | terminate | expire
    )
    days: int = 0


def dunning_steps(
    *,
    due_at: datetime,
    issued_at: datetime,
    now: datetime,
    done: set[str] | frozenset[str],
    policy: DunningPolicy,
    has_service: bool,
    auto_charge: bool,
) -> list[DunningStep]:
    """The steps due for an unpaid invoice at ``now`` that have not run yet, in order.

    - a saved card is charged once, ``charge_before`` days before the due
      date (so a decline can still be fixed in time);
    - of the reminders whose day has come, only the latest is sent (a clock
      that jumps ahead sends one reminder, not a burst);
    - renewal invoices (``has_service``) lead to suspension and termination
      of the service; an unpaid first order was never provisioned, so it is
      only voided (``expire``) after the termination delay.
    """
    steps: list[DunningStep] = []
    if auto_charge and policy.auto_charge and now >= due_at - timedelta(days=policy.charge_before):
        steps.append(DunningStep("auto-charge", "auto-charge"))
    if now < due_at:
        started = [
            d
            for d in policy.remind_before
            if issued_at < due_at - timedelta(days=d) <= now  # not right after issuing it
        ]
        if started:
            days = min(started)
            steps.append(DunningStep(f"remind-before-{days}", "remind-before", days))
    else:
        steps.append(DunningStep("overdue", "overdue", 0))
        started = [d for d in policy.remind_after if now >= due_at + timedelta(days=d)]
        if started:
            days = max(started)
            steps.append(DunningStep(f"remind-after-{days}", "remind-after", days))
        if has_service and now >= due_at + timedelta(days=policy.suspend_after):
            steps.append(DunningStep("suspend", "suspend", policy.suspend_after))
        if now >= due_at + timedelta(days=policy.terminate_after):
            action = "terminate" if has_service else "expire"
            steps.append(DunningStep(action, action, policy.terminate_after))
    return [step for step in steps if step.name not in done]


# --- input checks ------------------------------------------------------------------------------

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_domain(domain: str) -> str:
    """A registrable host name in lower case and IDNA (``café.com.br`` → ``xn--caf-dma.com.br``)."""
    value = domain.strip().rstrip(".").lower()
    try:
        value = value.encode("idna").decode("ascii")
    except UnicodeError:
        value = ""
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidInput(
            f"Domínio inválido: {domain!r}; use algo como minhaempresa.com.br / "
            f"invalid domain {domain!r}; use something like mycompany.com"
        )
    return value


def check_email(email: str) -> str:
    value = email.strip()
    if not _EMAIL.match(value) or len(value) > 254:
        raise InvalidInput(f"E-mail inválido: {email!r} / invalid e-mail {email!r}")
    return value


def price_for(prices: list[dict[str, Any]], cycle: BillingCycle, *, code: str) -> dict[str, Any]:
    """The price of a product for ``cycle`` (catalog prices are dicts as stored)."""
    for price in prices:
        if price["cycle"] == cycle.value:
            return price
    offered = ", ".join(p["cycle"] for p in prices) or "nenhum / none"
    raise InvalidInput(
        f"{code!r} não é vendido no ciclo {cycle.value}; ciclos disponíveis: {offered} / "
        f"{code!r} is not sold {cycle.value}; available cycles: {offered}"
    )


def check_product(
    *,
    code: str,
    kind: ProductKind,
    recurring: bool,
    prices: list[dict[str, Any]],
    whm_package: str | None,
) -> None:
    """A catalog item's rules: prices not negative, one per cycle, cycles that
    fit ``recurring``, and a WHM package for plans (only for plans)."""
    if not prices:
        raise InvalidInput(f"{code}: informe ao menos um preço / give at least one price")
    cycles = [p["cycle"] for p in prices]
    if len(set(cycles)) != len(cycles):
        raise InvalidInput(f"{code}: um preço por ciclo / one price per cycle")
    for price in prices:
        check_amount(price["amount"], what=f"{code} {price['cycle']}")
        check_amount(price.get("setup_fee") or 0, what=f"{code} taxa de instalação / setup fee")
        if not CURRENCY_RE.match(price["currency"]):
            raise InvalidInput(f"{code}: moeda inválida / invalid currency {price['currency']!r}")
        one_time = price["cycle"] == BillingCycle.ONE_TIME.value
        if recurring == one_time:
            raise InvalidInput(
                f"{code}: itens recorrentes têm ciclos mensais a anuais e avulsos só 'one_time' / "
                "recurring items take monthly…annual cycles, one-time items only 'one_time'"
            )
    if kind is ProductKind.PLAN:
        if not whm_package:
            raise InvalidInput(
                f"{code}: um plano precisa do pacote WHM / a plan needs its WHM package"
            )
        if not recurring:
            raise InvalidInput(f"{code}: planos são recorrentes / plans are recurring")
    elif whm_package:
        raise InvalidInput(f"{code}: só planos têm pacote WHM / only plans have a WHM package")
