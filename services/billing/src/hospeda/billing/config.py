"""Settings of the billing service (environment variables prefixed `BILLING_`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from hospeda.billing.domain import DunningPolicy
from hospeda.runtime.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    """The billing service's settings.

    Stripe: with ``BILLING_STRIPE_API_BASE`` empty the official SDK talks to
    the real Stripe API with ``BILLING_STRIPE_SECRET_KEY``; `make run` points
    it at the local Stripe simulator instead. Nothing else changes.
    """

    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore", populate_by_name=True)
    service_name = "billing"

    # --- Stripe -------------------------------------------------------------------------------
    stripe_secret_key: SecretStr | None = Field(
        default=None, description="`sk_live_…` / `sk_test_…`; absent: card and Stripe Pix are off."
    )
    stripe_webhook_secret: SecretStr | None = Field(
        default=None, description="`whsec_…`: verifies `Stripe-Signature` on webhooks."
    )
    stripe_api_base: str | None = Field(
        default=None,
        description="Another Stripe API address (the simulator); empty: api.stripe.com.",
    )
    stripe_timeout_s: float = Field(default=20.0, gt=0)
    stripe_webhook_tolerance_s: int = Field(default=300, ge=1)
    stripe_pix_expires_after_s: int = Field(default=86_400, ge=10, le=1_209_600)
    app_url: str = Field(
        default="http://localhost:8000/app",
        description="The customer area; notifications link to its invoices (`…/faturas/<id>`).",
    )
    return_url: str = Field(
        default="http://localhost:8000/app/pagamento/retorno",
        description="Where Stripe sends the customer back after 3-D Secure (the gateway).",
    )

    # --- the webhook ingress ------------------------------------------------------------------
    webhook_host: str = Field(
        default="127.0.0.1",
        description="Where the ingress listens; 0.0.0.0 in a container behind the TLS proxy.",
    )
    webhook_port: int = Field(default=8010, ge=0, le=65535, description="0: no ingress.")

    undelivered_policy: Literal["refund", "credit"] = Field(
        default="refund",
        description=(
            "What a paid service that provisioning could not deliver gives back when it is "
            "cancelled (by an operator, or by the customer tired of waiting): `refund` what "
            "its current period cost to the method that paid it (what was paid with credit "
            "goes back as credit), or keep it all as `credit` on the account."
        ),
    )
    dispute_policy: Literal["keep", "suspend_on_open", "suspend_on_loss"] = Field(
        default="suspend_on_loss",
        description=(
            "What a card dispute (chargeback) does to the services it paid for: keep them, "
            "suspend them when the dispute opens (back when it is won), or only when it is lost. "
            "Staff are alerted in every case."
        ),
    )

    # --- direct Pix (BR Code) -----------------------------------------------------------------
    pix_key: str | None = Field(
        default=None, description="The receiving Pix key (CNPJ, e-mail, phone or random key)."
    )
    pix_merchant_name: str = "Hospeda"
    pix_merchant_city: str = "Sao Paulo"
    pix_expires_after_s: int = Field(default=86_400, ge=60)

    # --- Pix settled through a PSP's API Pix (the BCB standard) ----------------------------------
    pix_psp_url: str | None = Field(
        default=None,
        description=(
            "The PSP's API Pix base (`https://…/v2`). Set: invoices get a charge (`cob`) at the "
            "PSP and are paid by its webhook or by reconciliation. Empty: direct Pix codes that "
            "staff record by hand."
        ),
    )
    pix_psp_token_url: str | None = Field(
        default=None, description="The PSP's OAuth token URL; empty: `<pix_psp_url>/oauth/token`."
    )
    pix_psp_client_id: str | None = None
    pix_psp_client_secret: SecretStr | None = None
    pix_psp_cert_file: str | None = Field(
        default=None, description="Client certificate (PEM) when the PSP asks for mutual TLS."
    )
    pix_psp_key_file: str | None = Field(default=None, description="Its private key (PEM).")
    pix_psp_timeout_s: float = Field(default=20.0, gt=0)
    pix_webhook_secret: SecretStr | None = Field(
        default=None, description="Verifies `Pix-Signature` on the PSP's webhook calls."
    )
    pix_webhook_url: str | None = Field(
        default=None,
        description=(
            "The public address of `/webhooks/pix` that billing registers at the PSP when it "
            "starts (`PUT /webhook/{chave}`); empty: registered by hand."
        ),
    )
    pix_surplus_policy: Literal["refund", "credit"] = Field(
        default="refund",
        description=(
            "A Pix nobody asked for — a second payment of the same charge, one for a settled "
            "invoice, one for less than the charge, or what exceeds it — is given back to the "
            "payer by the PSP (`refund`) or kept as account credit and used on what is owed "
            "(`credit`). Staff are told either way."
        ),
    )
    pix_reconcile_every_s: int = Field(
        default=600, ge=10, description="How often the Pix the PSP received are listed."
    )
    pix_reconcile_window_s: int = Field(
        default=86_400, ge=60, description="How far back each reconciliation looks."
    )

    def pix_psp_ready(self) -> bool:
        return bool(self.pix_psp_url and self.pix_key and self.pix_psp_client_id)

    # --- billing rules ---------------------------------------------------------------------
    order_due_days: int = Field(default=3, ge=0, description="Days to pay a new order.")
    change_due_days: int = Field(default=1, ge=0, description="Days to pay an upgrade.")
    renewal_lead_days: int = Field(
        default=7,
        ge=1,
        description="Renewal invoices are issued this many days before the due date.",
    )
    remind_before_days: tuple[int, ...] = (3,)
    remind_after_days: tuple[int, ...] = (1, 3)
    suspend_after_days: int = Field(default=7, ge=1)
    terminate_after_days: int = Field(default=30, ge=2)
    auto_charge: bool = True
    tick_interval_s: float = Field(
        default=30.0, gt=0, description="How often renewals and dunning are looked at."
    )
    job_retry_base_s: float = Field(default=5.0, gt=0)
    job_attempts: int = Field(default=5, ge=1)

    def dunning_policy(self) -> DunningPolicy:
        return DunningPolicy(
            remind_before=self.remind_before_days,
            remind_after=self.remind_after_days,
            suspend_after=self.suspend_after_days,
            terminate_after=self.terminate_after_days,
            auto_charge=self.auto_charge,
        )

    def insecure_settings(self) -> list[str]:
        problems = super().insecure_settings()
        key = self.stripe_secret_key.get_secret_value() if self.stripe_secret_key else ""
        if key and not key.startswith(("sk_live_", "rk_live_")):
            problems.append("BILLING_STRIPE_SECRET_KEY must be a live key")
        if self.stripe_api_base:
            problems.append("BILLING_STRIPE_API_BASE must be empty (the real Stripe API)")
        if key and self.secret_is_weak(self.stripe_webhook_secret, min_length=20):
            problems.append("BILLING_STRIPE_WEBHOOK_SECRET must be set to Stripe's signing secret")
        if self.pix_psp_url:
            if not self.pix_psp_url.startswith("https://"):
                problems.append("BILLING_PIX_PSP_URL must be an https:// address")
            if self.secret_is_weak(self.pix_webhook_secret, min_length=20):
                problems.append("BILLING_PIX_WEBHOOK_SECRET must be set (20+ characters)")
        return problems
