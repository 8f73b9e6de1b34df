"""The billing service's own tables (its database only; never sent over the wire).

Money columns are integer cents; every time column is UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from hospeda.runtime.types import BigIntPK, JSONType, UtcDateTime


class BillingModel(SQLModel, registry=registry()):
    """Base of the billing service's tables."""


METADATA = BillingModel.metadata


def _time(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_column=sa.Column(UtcDateTime, nullable=nullable, index=index),
    )


def _cents(default: int | None = 0) -> Any:
    """An amount of money in cents (64-bit)."""
    if default is None:
        return Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    return Field(default=default, sa_column=sa.Column(sa.BigInteger, nullable=False))


def _json(default: Any = dict) -> Any:
    return Field(default_factory=default, sa_column=sa.Column(JSONType, nullable=False))


class Product(BillingModel, table=True):
    """A plan or add-on of the catalog, with its prices per cycle
    (``[{"cycle", "amount", "currency", "setup_fee"}]``, cents)."""

    __tablename__ = "product"

    code: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=10)
    name: str = Field(max_length=200)
    description: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    recurring: bool = True
    whm_package: str | None = Field(default=None, max_length=64)
    family: str | None = Field(default=None, max_length=64)
    """Add-ons: tiers of one family change into each other (``domain.addon_family``)."""
    prices: list[dict[str, Any]] = _json(list)
    active: bool = True
    version: int = 1
    updated_at: datetime = _time()


class Account(BillingModel, table=True):
    """A company as billing knows it: who to write to, its Stripe customer
    and saved card (a Stripe id; card data never reaches us)."""

    __tablename__ = "billing_account"

    company_id: UUID = Field(primary_key=True)
    contact_email: str | None = Field(default=None, max_length=254)
    stripe_customer_id: str | None = Field(default=None, max_length=255)
    default_payment_method: str | None = Field(default=None, max_length=255)
    created_at: datetime = _time()
    updated_at: datetime = _time()


class CreditBalance(BillingModel, table=True):
    """A company's account credit in one currency (cents)."""

    __tablename__ = "credit_balance"

    company_id: UUID = Field(primary_key=True)
    currency: str = Field(primary_key=True, max_length=3)
    amount: int = _cents()


class CreditEntry(BillingModel, table=True):
    """One movement of account credit (the ledger behind the balance)."""

    __tablename__ = "credit_entry"

    id: UUID = Field(primary_key=True)
    company_id: UUID = Field(index=True)
    currency: str = Field(max_length=3)
    amount: int = _cents(None)
    balance_after: int = _cents(None)
    reason: str = Field(max_length=500)
    invoice_id: UUID | None = None
    payment_id: UUID | None = None
    created_at: datetime = _time()


class InvoiceSequence(BillingModel, table=True):
    """The next invoice number of a series (a year). Taken in the issuing
    transaction, so a rollback gives the number back: no gaps."""

    __tablename__ = "invoice_sequence"

    series: str = Field(primary_key=True, max_length=20)
    next_value: int = 1


class Order(BillingModel, table=True):
    __tablename__ = "billing_order"

    id: UUID = Field(primary_key=True)
    company_id: UUID = Field(index=True)
    plan_code: str = Field(max_length=64)
    domain: str = Field(max_length=253)
    cycle: str = Field(max_length=20)
    addons: list[dict[str, Any]] = _json(list)
    contact_email: str = Field(max_length=254)
    status: str = Field(max_length=20)  # placed | paid | cancelled
    invoice_id: UUID | None = None
    total: int = _cents()
    currency: str = Field(default="BRL", max_length=3)
    created_at: datetime = _time()
    updated_at: datetime = _time()


class Invoice(BillingModel, table=True):
    __tablename__ = "invoice"
    __table_args__ = (sa.Index("ix_invoice_status_due", "status", "due_at"),)

    id: UUID = Field(primary_key=True)
    company_id: UUID = Field(index=True)
    number: str | None = Field(default=None, sa_column=sa.Column(sa.String(30), unique=True))
    kind: str = Field(max_length=20)
    status: str = Field(max_length=20)
    currency: str = Field(max_length=3)
    subtotal: int = _cents()
    credit_applied: int = _cents()
    total: int = _cents()
    amount_paid: int = _cents()
    amount_refunded: int = _cents()
    due_at: datetime = _time()
    issued_at: datetime | None = _time(nullable=True)
    paid_at: datetime | None = _time(nullable=True)
    voided_at: datetime | None = _time(nullable=True)
    void_reason: str | None = Field(default=None, max_length=500)
    order_id: UUID | None = Field(default=None, index=True)
    purpose: dict[str, Any] = _json()
    created_at: datetime = _time()
    updated_at: datetime = _time()


class InvoiceLine(BillingModel, table=True):
    __tablename__ = "invoice_line"

    id: int | None = Field(
        default=None, sa_column=sa.Column(BigIntPK, primary_key=True, autoincrement=True)
    )
    invoice_id: UUID = Field(index=True)
    position: int
    description: str = Field(max_length=500)
    quantity: int = 1
    unit_amount: int = _cents(None)
    amount: int = _cents(None)
    product_code: str | None = Field(default=None, max_length=64)
    subscription_id: UUID | None = Field(default=None, index=True)
    period_start: datetime | None = _time(nullable=True)
    period_end: datetime | None = _time(nullable=True)


class Payment(BillingModel, table=True):
    """One attempt to pay an invoice: a Stripe PaymentIntent, a direct Pix
    BR Code, or account credit."""

    __tablename__ = "payment"

    id: UUID = Field(primary_key=True)
    company_id: UUID = Field(index=True)
    invoice_id: UUID = Field(index=True)
    method: str = Field(max_length=20)
    provider: str = Field(max_length=20)  # stripe | pix | credit
    provider_reference: str | None = Field(
        default=None, sa_column=sa.Column(sa.String(255), unique=True)
    )
    amount: int = _cents(None)
    currency: str = Field(max_length=3)
    status: str = Field(max_length=20)
    # pending | requires_action | succeeded | failed | expired | canceled
    failure_code: str | None = Field(default=None, max_length=100)
    failure_reason: str | None = Field(default=None, max_length=500)
    next_action: dict[str, Any] = _json()
    expires_at: datetime | None = _time(nullable=True)
    off_session: bool = False
    payment_method_ref: str | None = Field(default=None, max_length=255)
    amount_refunded: int = _cents()
    created_at: datetime = _time()
    updated_at: datetime = _time()
    succeeded_at: datetime | None = _time(nullable=True)


class Refund(BillingModel, table=True):
    __tablename__ = "refund"

    id: UUID = Field(primary_key=True)
    company_id: UUID = Field(index=True)
    invoice_id: UUID = Field(index=True)
    payment_id: UUID
    amount: int = _cents(None)
    currency: str = Field(max_length=3)
    reason: str = Field(max_length=500)
    status: str = Field(max_length=20)  # pending | succeeded | failed
    provider_reference: str | None = Field(
        default=None, sa_column=sa.Column(sa.String(255), unique=True)
    )
    full: bool = False
    created_at: datetime = _time()
    settled_at: datetime | None = _time(nullable=True)


class Dispute(BillingModel, table=True):
    """A card payment the customer's bank disputes (a chargeback), as Stripe
    reports it: opened, then won or lost."""

    __tablename__ = "dispute"

    id: UUID = Field(primary_key=True)
    provider_reference: str = Field(sa_column=sa.Column(sa.String(255), unique=True))
    company_id: UUID = Field(index=True)
    invoice_id: UUID = Field(index=True)
    payment_id: UUID
    amount: int = _cents(None)
    currency: str = Field(max_length=3)
    reason: str = Field(max_length=100)  # Stripe's: fraudulent, product_not_received …
    status: str = Field(max_length=40)  # Stripe's: needs_response, under_review, won, lost …
    evidence_due_at: datetime | None = _time(nullable=True)
    opened_at: datetime = _time()
    closed_at: datetime | None = _time(nullable=True)


class PixReceipt(BillingModel, table=True):
    """A Pix the PSP says we received (API Pix ``pix`` object), kept once by its
    ``endToEndId``, and what was done with it."""

    __tablename__ = "pix_receipt"

    end_to_end_id: str = Field(primary_key=True, max_length=64)
    txid: str | None = Field(default=None, max_length=35, index=True)
    amount: int = _cents(None)
    received_at: datetime = _time()
    payment_id: UUID | None = None
    company_id: UUID | None = None
    outcome: str = Field(max_length=20)  # applied | credited | returned | unmatched
    note: str = Field(default="", max_length=500)
    recorded_at: datetime = _time()
    # what of it goes back to the payer (``BILLING_PIX_SURPLUS_POLICY=refund``), by a devolucao
    return_id: str | None = Field(default=None, max_length=35)
    return_amount: int = _cents()
    return_status: str = Field(default="", max_length=20)  # "" | pending | succeeded | failed


DOMAIN_HELD = "kind = 'plan' AND status IN ('active', 'suspended', 'provisioning_failed')"
"""The plans that hold their domain (``domain.DOMAIN_HOLDERS``)."""


class Subscription(BillingModel, table=True):
    """A plan (one hosting service) or an add-on of a service."""

    __tablename__ = "subscription"
    __table_args__ = (
        sa.Index("ix_subscription_renewal", "status", "period_end"),
        # one paid plan per domain, even when two companies' payments land at once
        sa.Index(
            "ix_subscription_domain_held",
            "domain",
            unique=True,
            postgresql_where=sa.text(DOMAIN_HELD),
            sqlite_where=sa.text(DOMAIN_HELD),
        ),
    )

    id: UUID = Field(primary_key=True)
    company_id: UUID = Field(index=True)
    kind: str = Field(max_length=10)
    product_code: str = Field(max_length=64)
    cycle: str = Field(max_length=20)
    price: int = _cents(None)
    currency: str = Field(max_length=3)
    status: str = Field(max_length=20)
    service_id: UUID = Field(index=True)
    parent_id: UUID | None = Field(default=None, index=True)
    domain: str | None = Field(default=None, max_length=253)
    order_id: UUID | None = None
    anchor_at: datetime | None = _time(nullable=True)
    period_number: int = 0
    period_start: datetime | None = _time(nullable=True)
    period_end: datetime | None = _time(nullable=True)
    cancel_at_period_end: bool = False
    renewal_invoice_id: UUID | None = None
    cancel_reason: str | None = Field(default=None, max_length=500)
    undelivered_since: datetime | None = _time(nullable=True)
    ended_at: datetime | None = _time(nullable=True)
    created_at: datetime = _time()
    updated_at: datetime = _time()


class StripeEvent(BillingModel, table=True):
    """A Stripe webhook event already applied (deduplication by event id)."""

    __tablename__ = "stripe_event"

    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=100)
    received_at: datetime = _time()


class DunningRecord(BillingModel, table=True):
    """A dunning step done for an invoice. The primary key makes each step
    happen once, whichever billing process gets there first."""

    __tablename__ = "dunning_step"

    invoice_id: UUID = Field(primary_key=True)
    step: str = Field(primary_key=True, max_length=40)
    done_at: datetime = _time()
