"""All of billing's SQL. Functions take the open session; none commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.billing.domain import (
    DOMAIN_HOLDERS,
    HELD,
    LIVE,
    UNPAID,
    InvoiceStatus,
    SubscriptionStatus,
)
from hospeda.billing.models import (
    Account,
    CreditBalance,
    CreditEntry,
    Dispute,
    DunningRecord,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    Order,
    Payment,
    PixReceipt,
    Product,
    Refund,
    StripeEvent,
    Subscription,
)
from hospeda.contracts import new_id
from hospeda.runtime.db import insert_for

M = TypeVar("M")


def _table(model: type[Any]) -> sa.Table:
    return model.__table__  # type: ignore[no-any-return]


async def get(session: AsyncSession, model: type[M], key: Any, *, lock: bool = False) -> M | None:
    """One row by primary key; ``lock`` holds it (``FOR UPDATE``) until commit,
    re-reading it if this session already had it."""
    return await session.get(model, key, with_for_update=lock, populate_existing=lock)


# --- catalog ---------------------------------------------------------------------------------


async def products(
    session: AsyncSession,
    *,
    kind: str | None = None,
    active_only: bool = True,
    after: str | None = None,
    limit: int = 500,
) -> Sequence[Product]:
    statement = sa.select(Product).order_by(Product.code).limit(limit)  # type: ignore[arg-type]
    if kind:
        statement = statement.where(Product.kind == kind)
    if active_only:
        statement = statement.where(Product.active.is_(True))  # type: ignore[attr-defined]
    if after:
        statement = statement.where(Product.code > after)  # type: ignore[arg-type]
    return (await session.execute(statement)).scalars().all()


# --- accounts and credit ---------------------------------------------------------------------------


async def account(session: AsyncSession, company_id: UUID, now: datetime) -> Account:
    """The company's billing account, created on first use, locked."""
    row = await get(session, Account, company_id, lock=True)
    if row is None:
        await session.execute(
            insert_for(session, _table(Account))
            .values(company_id=company_id, created_at=now, updated_at=now)
            .on_conflict_do_nothing()
        )
        row = await get(session, Account, company_id, lock=True)
    assert row is not None
    return row


async def credit_balance(
    session: AsyncSession, company_id: UUID, currency: str, *, lock: bool = True
) -> int:
    row = await get(session, CreditBalance, (company_id, currency), lock=lock)
    return row.amount if row else 0


async def move_credit(
    session: AsyncSession,
    *,
    company_id: UUID,
    currency: str,
    amount: int,
    reason: str,
    now: datetime,
    invoice_id: UUID | None = None,
    payment_id: UUID | None = None,
) -> int:
    """Add (positive) or use (negative) account credit; returns the new balance."""
    await session.execute(
        insert_for(session, _table(CreditBalance))
        .values(company_id=company_id, currency=currency, amount=0)
        .on_conflict_do_nothing()
    )
    row = await get(session, CreditBalance, (company_id, currency), lock=True)
    assert row is not None
    if row.amount + amount < 0:
        raise ValueError("account credit cannot go negative")
    row.amount += amount
    session.add(
        CreditEntry(
            id=new_id(),
            company_id=company_id,
            currency=currency,
            amount=amount,
            balance_after=row.amount,
            reason=reason[:500],
            invoice_id=invoice_id,
            payment_id=payment_id,
            created_at=now,
        )
    )
    return row.amount


async def credit_entries(
    session: AsyncSession, company_id: UUID, limit: int
) -> Sequence[CreditEntry]:
    statement = (
        sa.select(CreditEntry)
        .where(CreditEntry.company_id == company_id)
        .order_by(CreditEntry.id.desc())  # type: ignore[attr-defined]
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()


async def balances(session: AsyncSession, company_id: UUID) -> Sequence[CreditBalance]:
    statement = sa.select(CreditBalance).where(CreditBalance.company_id == company_id)
    return (await session.execute(statement)).scalars().all()


# --- invoice numbers -----------------------------------------------------------------------------


async def take_numbers(session: AsyncSession, series: str, count: int) -> int:
    """Reserve ``count`` consecutive numbers of ``series``; returns the first.

    The row stays locked until the transaction ends; a rollback returns the
    numbers, so numbering has no gaps even with several billing processes."""
    table = _table(InvoiceSequence)
    await session.execute(
        insert_for(session, table).values(series=series, next_value=1).on_conflict_do_nothing()
    )
    result = await session.execute(
        sa.update(table)
        .where(table.c.series == series)
        .values(next_value=table.c.next_value + count)
        .returning(table.c.next_value)
    )
    return int(result.scalar_one()) - count


# --- invoices ------------------------------------------------------------------------------------


async def lines(session: AsyncSession, invoice_id: UUID) -> Sequence[InvoiceLine]:
    statement = (
        sa.select(InvoiceLine)
        .where(InvoiceLine.invoice_id == invoice_id)
        .order_by(InvoiceLine.position)  # type: ignore[arg-type]
    )
    return (await session.execute(statement)).scalars().all()


async def lines_of(session: AsyncSession, invoice_ids: Sequence[UUID]) -> Sequence[InvoiceLine]:
    if not invoice_ids:
        return []
    statement = (
        sa.select(InvoiceLine)
        .where(InvoiceLine.invoice_id.in_(invoice_ids))  # type: ignore[attr-defined]
        .order_by(InvoiceLine.invoice_id, InvoiceLine.position)  # type: ignore[arg-type]
    )
    return (await session.execute(statement)).scalars().all()


async def invoices(
    session: AsyncSession,
    *,
    company_id: UUID | None,
    status: str | None,
    before: UUID | None,
    limit: int,
) -> Sequence[Invoice]:
    statement = sa.select(Invoice).order_by(Invoice.id.desc()).limit(limit)  # type: ignore[attr-defined]
    if company_id is not None:
        statement = statement.where(Invoice.company_id == company_id)
    if status:
        statement = statement.where(Invoice.status == status)
    if before is not None:
        statement = statement.where(Invoice.id < before)  # type: ignore[arg-type]
    return (await session.execute(statement)).scalars().all()


async def unpaid_invoices_due(
    session: AsyncSession, *, until: datetime, after: tuple[datetime, UUID] | None, limit: int
) -> Sequence[Invoice]:
    """Unpaid invoices due before ``until``, in due order, that no other billing
    process is working on right now (``SKIP LOCKED``)."""
    statement = (
        sa.select(Invoice)
        .where(Invoice.status.in_([s.value for s in UNPAID]), Invoice.due_at <= until)  # type: ignore[attr-defined]
        .order_by(Invoice.due_at, Invoice.id)  # type: ignore[arg-type]
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if after is not None:
        statement = statement.where(
            sa.tuple_(Invoice.due_at, Invoice.id) > sa.tuple_(*after)  # type: ignore[arg-type]
        )
    return (await session.execute(statement)).scalars().all()


async def steps_done(session: AsyncSession, invoice_ids: Sequence[UUID]) -> dict[UUID, set[str]]:
    done: dict[UUID, set[str]] = {i: set() for i in invoice_ids}
    if invoice_ids:
        rows = await session.execute(
            sa.select(DunningRecord.invoice_id, DunningRecord.step).where(
                DunningRecord.invoice_id.in_(invoice_ids)  # type: ignore[attr-defined]
            )
        )
        for invoice_id, step in rows.all():
            done[invoice_id].add(step)
    return done


async def claim_step(session: AsyncSession, invoice_id: UUID, step: str, now: datetime) -> bool:
    """Record that ``step`` ran for the invoice; False if it already had
    (another billing process got there first: do nothing)."""
    table = _table(DunningRecord)
    result = await session.execute(
        insert_for(session, table)
        .values(invoice_id=invoice_id, step=step, done_at=now)
        .on_conflict_do_nothing()
        .returning(table.c.step)
    )
    return result.first() is not None


# --- payments ------------------------------------------------------------------------------------


async def payment_by_reference(
    session: AsyncSession, reference: str, *, lock: bool = False
) -> Payment | None:
    statement = sa.select(Payment).where(Payment.provider_reference == reference)
    if lock:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalars().first()


async def payments(
    session: AsyncSession,
    *,
    company_id: UUID | None,
    invoice_id: UUID | None = None,
    before: UUID | None = None,
    limit: int = 100,
) -> Sequence[Payment]:
    statement = sa.select(Payment).order_by(Payment.id.desc()).limit(limit)  # type: ignore[attr-defined]
    if company_id is not None:
        statement = statement.where(Payment.company_id == company_id)
    if invoice_id is not None:
        statement = statement.where(Payment.invoice_id == invoice_id)
    if before is not None:
        statement = statement.where(Payment.id < before)  # type: ignore[arg-type]
    return (await session.execute(statement)).scalars().all()


async def open_attempts(session: AsyncSession, invoice_id: UUID) -> Sequence[Payment]:
    statement = sa.select(Payment).where(
        Payment.invoice_id == invoice_id,
        Payment.status.in_(["pending", "requires_action"]),  # type: ignore[attr-defined]
    )
    return (await session.execute(statement)).scalars().all()


async def expired_pix(session: AsyncSession, now: datetime, limit: int) -> Sequence[Payment]:
    statement = (
        sa.select(Payment)
        .where(
            Payment.provider.in_(["pix", "psp"]),  # type: ignore[attr-defined]
            Payment.status == "requires_action",
            Payment.expires_at <= now,  # type: ignore[operator]
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(statement)).scalars().all()


async def refunds(session: AsyncSession, invoice_id: UUID) -> Sequence[Refund]:
    statement = (
        sa.select(Refund).where(Refund.invoice_id == invoice_id).order_by(Refund.id)  # type: ignore[arg-type]
    )
    return (await session.execute(statement)).scalars().all()


async def refund_by_reference(session: AsyncSession, reference: str) -> Refund | None:
    statement = sa.select(Refund).where(Refund.provider_reference == reference).with_for_update()
    return (await session.execute(statement)).scalars().first()


async def dispute_by_reference(session: AsyncSession, reference: str) -> Dispute | None:
    statement = sa.select(Dispute).where(Dispute.provider_reference == reference).with_for_update()
    return (await session.execute(statement)).scalars().first()


async def disputes(session: AsyncSession, invoice_id: UUID) -> Sequence[Dispute]:
    statement = sa.select(Dispute).where(Dispute.invoice_id == invoice_id).order_by(Dispute.id)  # type: ignore[arg-type]
    return (await session.execute(statement)).scalars().all()


async def record_event(
    session: AsyncSession, event_id: str, event_type: str, now: datetime
) -> bool:
    """Remember a Stripe event; False if it was seen before (a redelivery)."""
    table = _table(StripeEvent)
    result = await session.execute(
        insert_for(session, table)
        .values(id=event_id, type=event_type[:100], received_at=now)
        .on_conflict_do_nothing()
        .returning(table.c.id)
    )
    return result.first() is not None


# --- subscriptions ---------------------------------------------------------------------------------


async def subscriptions(
    session: AsyncSession,
    *,
    company_id: UUID | None,
    status: str | None = None,
    service_id: UUID | None = None,
    before: UUID | None = None,
    limit: int = 100,
) -> Sequence[Subscription]:
    statement = sa.select(Subscription).order_by(Subscription.id.desc()).limit(limit)  # type: ignore[attr-defined]
    if company_id is not None:
        statement = statement.where(Subscription.company_id == company_id)
    if status:
        statement = statement.where(Subscription.status == status)
    if service_id is not None:
        statement = statement.where(Subscription.service_id == service_id)
    if before is not None:
        statement = statement.where(Subscription.id < before)  # type: ignore[arg-type]
    return (await session.execute(statement)).scalars().all()


async def subscriptions_by_id(
    session: AsyncSession, ids: Sequence[UUID], *, lock: bool = True
) -> list[Subscription]:
    if not ids:
        return []
    statement = (
        sa.select(Subscription)
        .where(Subscription.id.in_(ids))  # type: ignore[attr-defined]
        .order_by(Subscription.id)  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    )
    if lock:
        statement = statement.with_for_update()
    return list((await session.execute(statement)).scalars().all())


async def addons_of(
    session: AsyncSession,
    parent_id: UUID,
    *,
    statuses: Sequence[str] | None = None,
    lock: bool = True,
) -> list[Subscription]:
    statement = (
        sa.select(Subscription)
        .where(Subscription.parent_id == parent_id)
        .order_by(Subscription.id)  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    )
    if lock:
        statement = statement.with_for_update()
    if statuses:
        statement = statement.where(Subscription.status.in_(statuses))  # type: ignore[attr-defined]
    return list((await session.execute(statement)).scalars().all())


async def subscription_of_service(
    session: AsyncSession, service_id: UUID, *, addon_code: str | None = None
) -> Subscription | None:
    """The newest plan (or, with ``addon_code``, add-on) subscription of a
    provisioned service, locked."""
    statement = (
        sa.select(Subscription)
        .where(
            Subscription.service_id == service_id,
            Subscription.kind == ("addon" if addon_code else "plan"),
        )
        .order_by(Subscription.created_at.desc(), Subscription.id.desc())  # type: ignore[attr-defined]
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if addon_code:
        statement = statement.where(Subscription.product_code == addon_code)
    return (await session.execute(statement)).scalars().first()


async def last_paid_line(session: AsyncSession, subscription_id: UUID) -> InvoiceLine | None:
    """The line of the newest paid invoice that charged ``subscription_id``: what
    its current period cost."""
    statement = (
        sa.select(InvoiceLine)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)  # type: ignore[arg-type]
        .where(
            InvoiceLine.subscription_id == subscription_id,
            Invoice.status.in_(  # type: ignore[attr-defined]
                [InvoiceStatus.PAID.value, InvoiceStatus.PARTIALLY_REFUNDED.value]
            ),
        )
        .order_by(Invoice.issued_at.desc(), InvoiceLine.position)  # type: ignore[attr-defined]
        .limit(1)
    )
    return (await session.execute(statement)).scalars().first()


async def pending_of_order(session: AsyncSession, order_id: UUID) -> list[Subscription]:
    statement = (
        sa.select(Subscription)
        .where(Subscription.order_id == order_id)
        .order_by(Subscription.id)  # type: ignore[arg-type]
        .with_for_update()
    )
    return list((await session.execute(statement)).scalars().all())


async def domain_holder(session: AsyncSession, domain: str) -> Subscription | None:
    """The paid plan that holds ``domain`` (one at most: ``ix_subscription_domain_held``)."""
    statement = (
        sa.select(Subscription)
        .where(
            Subscription.domain == domain,
            Subscription.kind == "plan",
            Subscription.status.in_([s.value for s in DOMAIN_HOLDERS]),  # type: ignore[attr-defined]
        )
        .limit(1)
    )
    return (await session.execute(statement)).scalars().first()


async def open_order_for(
    session: AsyncSession, company_id: UUID, domain: str, now: datetime
) -> Invoice | None:
    """The unpaid, not yet due invoice of ``company_id``'s own order for ``domain``."""
    statement = (
        sa.select(Invoice)
        .join(Order, Order.invoice_id == Invoice.id)  # type: ignore[arg-type]
        .where(
            Order.company_id == company_id,
            Order.domain == domain,
            Invoice.status.in_([s.value for s in UNPAID]),  # type: ignore[attr-defined]
            Invoice.due_at > now,  # type: ignore[operator]
        )
        .limit(1)
    )
    return (await session.execute(statement)).scalars().first()


async def addon_on_service(session: AsyncSession, service_id: UUID, code: str) -> bool:
    statement = (
        sa.select(Subscription.id)
        .where(
            Subscription.service_id == service_id,
            Subscription.kind == "addon",
            Subscription.product_code == code,
            Subscription.status.in_(  # type: ignore[attr-defined]
                [s.value for s in HELD]
            ),
        )
        .limit(1)
    )
    return (await session.execute(statement)).first() is not None


async def subscriptions_to_end(
    session: AsyncSession, now: datetime, limit: int
) -> Sequence[Subscription]:
    """Subscriptions cancelled at period end whose period is over."""
    statement = (
        sa.select(Subscription)
        .where(
            Subscription.cancel_at_period_end.is_(True),  # type: ignore[attr-defined]
            Subscription.status.in_([s.value for s in LIVE]),  # type: ignore[attr-defined]
            Subscription.period_end <= now,  # type: ignore[operator]
        )
        .order_by(Subscription.period_end)  # type: ignore[arg-type]
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(statement)).scalars().all()


def renewal_candidates_statement(until: datetime, limit: int, after: UUID | None) -> Any:
    """Live, recurring subscriptions whose period ends by ``until`` and that
    have no renewal invoice yet (and whose plan, for add-ons, renews too),
    by service (a plan next to its add-ons), from the service after
    ``after``, locked for this process (``SKIP LOCKED``)."""
    sub = _table(Subscription)
    parent = sub.alias("parent")
    parent_renews = (
        sa.select(sa.literal(1))
        .where(
            parent.c.id == sub.c.parent_id,
            parent.c.status == SubscriptionStatus.ACTIVE.value,
            parent.c.cancel_at_period_end.is_(False),
        )
        .exists()
    )
    statement = (
        sa.select(sub)
        .where(
            sub.c.status == SubscriptionStatus.ACTIVE.value,
            sub.c.period_end <= until,
            sub.c.renewal_invoice_id.is_(None),
            sub.c.cancel_at_period_end.is_(False),
            sa.or_(sub.c.parent_id.is_(None), parent_renews),
        )
        .order_by(sub.c.service_id, sub.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=sub)
    )
    if after is not None:
        statement = statement.where(sub.c.service_id > after)
    return statement


# --- Pix received through the PSP ----------------------------------------------------------------


async def claim_pix_receipt(session: AsyncSession, values: dict[str, Any]) -> PixReceipt | None:
    """Record a Pix by its ``endToEndId`` once: the new row, locked, or None
    when it was already recorded (a redelivered webhook, a reconciliation)."""
    table = _table(PixReceipt)
    inserted = await session.execute(
        insert_for(session, table)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(table.c.end_to_end_id)
    )
    if inserted.scalar_one_or_none() is None:
        return None
    return await get(session, PixReceipt, values["end_to_end_id"], lock=True)


async def receipt_of_payment(session: AsyncSession, payment_id: UUID) -> PixReceipt | None:
    """The Pix that paid a payment attempt (the first, when it was paid twice)."""
    statement = (
        sa.select(PixReceipt)
        .where(PixReceipt.payment_id == payment_id, PixReceipt.outcome.startswith("applied"))  # type: ignore[union-attr,arg-type]
        .order_by(PixReceipt.received_at)  # type: ignore[arg-type]
    )
    return (await session.execute(statement)).scalars().first()


async def receipt_by_return(session: AsyncSession, return_id: str) -> PixReceipt | None:
    statement = sa.select(PixReceipt).where(PixReceipt.return_id == return_id).with_for_update()
    return (await session.execute(statement)).scalars().first()
