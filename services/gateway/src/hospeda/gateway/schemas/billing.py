"""Billing: what the gateway sends billing (orders, payments, subscription
changes) and the answers it passes on from billing's queries."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, EmailStr, Field, field_validator

from hospeda.contracts import Money
from hospeda.contracts.billing import BillingCycle, OrderAddon, PaymentMethod
from hospeda.gateway.schemas.common import Page, Text, example

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]


class OrderIn(BaseModel):
    model_config = example(
        plan_code="hospedagem-pro",
        domain="paoquente.com.br",
        cycle="monthly",
        addons=[{"code": "backup-pro"}],
    )

    plan_code: Code
    domain: str = Field(
        min_length=3,
        max_length=253,
        pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        description="Lower-case, IDNA (xn--) form for accented names.",
    )
    cycle: BillingCycle
    addons: list[OrderAddon] = Field(default_factory=list, max_length=20)
    contact_email: EmailStr | None = None


class PayIn(BaseModel):
    model_config = example(method="pix")

    method: PaymentMethod
    payment_method_ref: Text | None = Field(default=None, max_length=255)


class ConfirmIn(BaseModel):
    model_config = example(payment_intent_id="pi_3PqX2nLkdIwHu7ix0cDg1Z2a")

    payment_intent_id: str = Field(min_length=4, max_length=255, pattern=r"^pi_[A-Za-z0-9_]+$")


class RefundIn(BaseModel):
    model_config = example(amount={"amount": 1990, "currency": "BRL"}, reason="Cobrança em dobro")

    amount: Money | None = Field(default=None, description="Absent: refund in full.")
    reason: Text = Field(min_length=1, max_length=500)

    @field_validator("amount")
    @classmethod
    def _positive(cls, amount: Money | None) -> Money | None:
        if amount is not None and amount.amount <= 0:
            raise ValueError(
                "o valor deve ser positivo, em centavos / the amount must be positive, in cents"
            )
        return amount


class PixReceivedIn(BaseModel):
    model_config = example(
        txid="HSP2026000123A1B2C3D4E5F6",
        amount={"amount": 4990, "currency": "BRL"},
        end_to_end_id="E12345678202612071200abcdef123456",
        reason="Extrato do banco de 07/12",
    )

    txid: str = Field(
        min_length=1,
        max_length=25,
        pattern=r"^[A-Za-z0-9]+$",
        description="The txid of the invoice's direct Pix charge (its BR Code).",
    )
    amount: Money = Field(description="What reached the account, in cents.")
    end_to_end_id: str | None = Field(
        default=None, max_length=64, pattern=r"^[A-Za-z0-9]+$", description="From the statement."
    )
    reason: Text = Field(min_length=1, max_length=500)

    @field_validator("amount")
    @classmethod
    def _positive(cls, amount: Money) -> Money:
        if amount.amount <= 0:
            raise ValueError(
                "o valor deve ser positivo, em centavos / the amount must be positive, in cents"
            )
        return amount


class VoidIn(BaseModel):
    model_config = example(reason="Pedido cancelado antes do pagamento")

    reason: Text = Field(min_length=1, max_length=500)


class ChangeIn(BaseModel):
    model_config = example(to_code="hospedagem-business", cycle="annual")

    to_code: Code
    cycle: BillingCycle | None = None


class SubscriptionCancelIn(BaseModel):
    model_config = example(at_period_end=True, reason="Vou migrar o site")

    at_period_end: bool = True
    reason: Text | None = Field(default=None, max_length=500)


class AddonIn(BaseModel):
    model_config = example(addon_code="backup-pro", cycle="monthly")

    addon_code: Code
    cycle: BillingCycle | None = None


# --- answers of billing's queries ------------------------------------------------------
# Passed on as billing gives them. Each gets its model from the runtime's typed query
# layer (issue 10, result models in hospeda.contracts): then the alias becomes that
# model (e.g. `Invoice = InvoiceView`, `Invoices = Page[InvoiceView]`) and OpenAPI
# documents the route that declares it.
Catalog = Page[Any]  # catalog.list
Order = dict[str, Any]  # orders.get
Invoices = Page[Any]  # invoices.list
Invoice = dict[str, Any]  # invoices.get
Subscriptions = Page[Any]  # subscriptions.list
Subscription = dict[str, Any]  # subscriptions.get
