"""Settings of the billing service (environment variables prefixed `BILLING_`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from hospeda.runtime.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    """The billing service's settings."""

    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore", populate_by_name=True)
    service_name = "billing"
