"""Billing: catalog, orders, invoices, payments and subscriptions.

All amounts are integer cents with an ISO 4217 currency (see ``Money``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import Field

from hospeda.contracts.envelope import Contract, Money, Payload, UtcDatetime

AddonFamily = Annotated[
    str | None,
    Field(
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="Add-ons only: tiers of one family can change into each other "
        "(upgrade, downgrade); no other change exists. Absent: a family of its own.",
    ),
]


class BillingCycle(StrEnum):
    """How often a recurring price is charged."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    ANNUAL = "annual"
    ONE_TIME = "one_time"


class ProductKind(StrEnum):
    """A hosting plan, or an add-on that belongs to a plan's service."""

    PLAN = "plan"
    ADDON = "addon"


class PaymentMethod(StrEnum):
    """``card`` and ``pix_stripe`` go through Stripe; ``pix`` is a direct BR Code."""

    CARD = "card"
    PIX_STRIPE = "pix_stripe"
    PIX = "pix"
    CREDIT = "credit"


class Price(Contract):
    """The price of a product for one billing cycle."""

    cycle: BillingCycle
    amount: Money
    setup_fee: Money | None = None


# --- commands (topic billing.commands.v1, key: company id) -------------------


class OrderAddon(Contract):
    """An add-on chosen with an order."""

    code: str = Field(min_length=1, max_length=64)
    cycle: BillingCycle | None = Field(default=None, description="Defaults to the plan's cycle.")


class PlaceOrder(Payload):
    """Order a plan for a domain, with add-ons. Key: company id."""

    TYPE: ClassVar[str] = "billing.place_order"
    order_id: UUID
    plan_code: str = Field(min_length=1, max_length=64)
    domain: str = Field(min_length=1, max_length=253)
    cycle: BillingCycle
    addons: tuple[OrderAddon, ...] = ()
    contact_email: str | None = Field(default=None, max_length=254)


class PayInvoice(Payload):
    """Start paying an invoice by card or Pix. Key: company id."""

    TYPE: ClassVar[str] = "billing.pay_invoice"
    invoice_id: UUID
    method: PaymentMethod
    payment_method_ref: str | None = Field(
        default=None, max_length=255, description="A saved Stripe payment method id, for cards."
    )


class PurchaseAddon(Payload):
    """Buy an add-on for an existing service. Key: company id."""

    TYPE: ClassVar[str] = "billing.purchase_addon"
    service_subscription_id: UUID
    addon_code: str = Field(min_length=1, max_length=64)
    cycle: BillingCycle | None = None


class ChangeSubscription(Payload):
    """Upgrade or downgrade a plan or add-on subscription. Key: company id."""

    TYPE: ClassVar[str] = "billing.change_subscription"
    subscription_id: UUID
    to_code: str = Field(min_length=1, max_length=64)
    cycle: BillingCycle | None = None


class CancelSubscription(Payload):
    """Cancel a plan or add-on, at period end or now. Key: company id."""

    TYPE: ClassVar[str] = "billing.cancel_subscription"
    subscription_id: UUID
    at_period_end: bool = True
    reason: str | None = Field(default=None, max_length=500)


class RefundInvoice(Payload):
    """Refund an invoice fully (``amount`` absent) or partially. Key: company id."""

    TYPE: ClassVar[str] = "billing.refund_invoice"
    invoice_id: UUID
    amount: Money | None = None
    reason: str = Field(min_length=1, max_length=500)


class VoidInvoice(Payload):
    """Void an unpaid invoice. Key: company id."""

    TYPE: ClassVar[str] = "billing.void_invoice"
    invoice_id: UUID
    reason: str = Field(min_length=1, max_length=500)


class ConfirmPayment(Payload):
    """The customer came back from paying (after 3-D Secure, a bank page or a
    Pix screen): billing asks Stripe for the PaymentIntent and applies it if
    it succeeded. Sent by the gateway; sending it again changes nothing.
    Key: company id."""

    TYPE: ClassVar[str] = "billing.confirm_payment"
    invoice_id: UUID
    payment_intent_id: str = Field(
        min_length=4, max_length=255, pattern=r"^pi_[A-Za-z0-9_]+$", description="Stripe `pi_…` id."
    )


class PublishCatalogItem(Payload):
    """Staff: create or change a plan or add-on (its full new state). Billing
    answers with ``CatalogItemPublished``. Key: company id (staff: none)."""

    TYPE: ClassVar[str] = "billing.publish_catalog_item"
    code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: ProductKind
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    recurring: bool = True
    prices: tuple[Price, ...] = Field(min_length=1)
    whm_package: str | None = Field(
        default=None, max_length=64, description="Plans only: the WHM package."
    )
    family: AddonFamily = None


class RetireCatalogItem(Payload):
    """Staff: stop selling a plan or add-on; existing subscriptions continue.
    Key: company id (staff: none)."""

    TYPE: ClassVar[str] = "billing.retire_catalog_item"
    code: str = Field(min_length=1, max_length=64)


class RecordPixPayment(Payload):
    """Staff: a direct Pix transfer for an invoice reached the bank account
    (reconciled by the BR Code's txid). Applied once per txid. Key: company id."""

    TYPE: ClassVar[str] = "billing.record_pix_payment"
    invoice_id: UUID
    txid: str = Field(min_length=1, max_length=25, pattern=r"^[A-Za-z0-9]+$")
    amount: Money
    end_to_end_id: str | None = Field(
        default=None, max_length=64, description="The Pix end-to-end id from the bank statement."
    )


# --- catalog (topic billing.catalog.v1, key: product code) --------------------


class CatalogItemPublished(Payload):
    """A plan or add-on was created or changed; this is its full current state.
    Key: product code."""

    TYPE: ClassVar[str] = "billing.catalog.item_published"
    code: str = Field(min_length=1, max_length=64)
    kind: ProductKind
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    recurring: bool = True
    prices: tuple[Price, ...]
    whm_package: str | None = Field(default=None, description="Plans only: the WHM package.")
    family: AddonFamily = None
    active: bool = True


class CatalogItemRetired(Payload):
    """A product can no longer be bought; existing subscriptions continue. Key: product code."""

    TYPE: ClassVar[str] = "billing.catalog.item_retired"
    code: str = Field(min_length=1, max_length=64)


# --- orders (topic billing.order.v1, key: order id) ---------------------------


class OrderPlaced(Payload):
    """An order was accepted and priced. Key: order id."""

    TYPE: ClassVar[str] = "billing.order.placed"
    order_id: UUID
    plan_code: str
    domain: str
    cycle: BillingCycle
    addons: tuple[OrderAddon, ...] = ()
    total: Money
    invoice_id: UUID | None = None


# --- invoices (topic billing.invoice.v1, key: invoice id) ---------------------


class InvoiceLine(Contract):
    """One line of an invoice."""

    description: str
    quantity: int = Field(default=1, ge=1)
    unit_amount: Money
    amount: Money
    subscription_id: UUID | None = None
    product_code: str | None = None
    period_start: UtcDatetime | None = None
    period_end: UtcDatetime | None = None


class InvoiceIssued(Payload):
    """An invoice was finalised and is open for payment. Key: invoice id."""

    TYPE: ClassVar[str] = "billing.invoice.issued"
    invoice_id: UUID
    number: str = Field(description="Gap-free, human-readable number.")
    order_id: UUID | None = None
    lines: tuple[InvoiceLine, ...]
    subtotal: Money
    credit_applied: Money
    total: Money
    due_at: UtcDatetime


class InvoicePaid(Payload):
    """An invoice was paid in full. Key: invoice id."""

    TYPE: ClassVar[str] = "billing.invoice.paid"
    invoice_id: UUID
    number: str
    amount_paid: Money
    paid_at: UtcDatetime
    payment_id: UUID | None = None


class InvoiceOverdue(Payload):
    """An invoice passed its due date unpaid. Key: invoice id."""

    TYPE: ClassVar[str] = "billing.invoice.overdue"
    invoice_id: UUID
    number: str
    due_at: UtcDatetime
    days_overdue: int = Field(ge=0)
    amount_due: Money


class InvoiceVoided(Payload):
    """An unpaid invoice was cancelled. Key: invoice id."""

    TYPE: ClassVar[str] = "billing.invoice.voided"
    invoice_id: UUID
    number: str
    reason: str


class InvoiceRefunded(Payload):
    """Money was returned on a paid invoice. Key: invoice id."""

    TYPE: ClassVar[str] = "billing.invoice.refunded"
    invoice_id: UUID
    number: str
    amount: Money
    fully_refunded: bool
    reason: str


# --- payments (topic billing.payment.v1, key: payment id) ---------------------


class PaymentSucceeded(Payload):
    """A payment was captured. Key: payment id."""

    TYPE: ClassVar[str] = "billing.payment.succeeded"
    payment_id: UUID
    invoice_id: UUID
    amount: Money
    method: PaymentMethod
    provider: str = Field(description="`stripe`, `pix` …")
    provider_reference: str | None = None


class PaymentFailed(Payload):
    """A payment attempt failed (declined card, expired Pix …). Key: payment id."""

    TYPE: ClassVar[str] = "billing.payment.failed"
    payment_id: UUID
    invoice_id: UUID
    amount: Money
    method: PaymentMethod
    reason: str
    code: str | None = None


class PaymentRefunded(Payload):
    """A captured payment was refunded, fully or partly. Key: payment id."""

    TYPE: ClassVar[str] = "billing.payment.refunded"
    payment_id: UUID
    invoice_id: UUID
    amount: Money
    provider_reference: str | None = None


# --- subscriptions (topic billing.subscription.v1, key: subscription id) -------


class SubscriptionActivated(Payload):
    """A paid plan or add-on became active. Key: subscription id.

    Plans carry the ``service_id`` provisioning will create; add-ons carry the
    service they belong to.
    """

    TYPE: ClassVar[str] = "billing.subscription.activated"
    subscription_id: UUID
    kind: ProductKind
    product_code: str
    service_id: UUID
    parent_subscription_id: UUID | None = None
    domain: str | None = None
    cycle: BillingCycle
    price: Money
    period_start: UtcDatetime
    period_end: UtcDatetime | None = None


class SubscriptionRenewed(Payload):
    """A subscription entered a new paid period. Key: subscription id."""

    TYPE: ClassVar[str] = "billing.subscription.renewed"
    subscription_id: UUID
    period_start: UtcDatetime
    period_end: UtcDatetime
    invoice_id: UUID


class SubscriptionChanged(Payload):
    """A plan or add-on was upgraded or downgraded. Key: subscription id.

    ``proration`` is positive when the customer was charged the difference
    and negative when it became account credit.
    """

    TYPE: ClassVar[str] = "billing.subscription.changed"
    subscription_id: UUID
    from_code: str
    to_code: str
    cycle: BillingCycle
    proration: Money
    effective_at: UtcDatetime


class SubscriptionCancelled(Payload):
    """A subscription was cancelled. Key: subscription id."""

    TYPE: ClassVar[str] = "billing.subscription.cancelled"
    subscription_id: UUID
    at_period_end: bool
    effective_at: UtcDatetime
    reason: str | None = None


class SubscriptionSuspended(Payload):
    """A subscription was suspended (usually for non-payment). Key: subscription id."""

    TYPE: ClassVar[str] = "billing.subscription.suspended"
    subscription_id: UUID
    reason: str


class SubscriptionUndelivered(Payload):
    """A paid plan or add-on could not be provisioned (provisioning gave up and an
    operator was alerted). It is not renewed or dunned until an operator retries
    (then ``reactivated``) or it is cancelled (then what it cost is given back).
    Key: subscription id."""

    TYPE: ClassVar[str] = "billing.subscription.undelivered"
    subscription_id: UUID
    service_id: UUID
    reason: str
    job_id: UUID | None = None


class SubscriptionReactivated(Payload):
    """A suspended subscription is active again (its invoice was paid), or an
    undelivered one was provisioned after all. Key: subscription id."""

    TYPE: ClassVar[str] = "billing.subscription.reactivated"
    subscription_id: UUID


class SubscriptionTerminated(Payload):
    """A subscription ended for good; its service is removed. Key: subscription id."""

    TYPE: ClassVar[str] = "billing.subscription.terminated"
    subscription_id: UUID
    reason: str
