"""Settings: production refuses what would be unsafe; secrets stay secret."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hospeda.billing.config import BillingSettings

PRODUCTION = {
    "HOSPEDA_ENV": "production",
    "DATABASE_URL": "postgresql://billing@db/billing",
    "HOSPEDA_TOPIC_REPLICATION": 3,
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_USERNAME": "hospeda-billing",
    "KAFKA_SASL_PASSWORD": "Zq8vN3k0uR2y7Lw1Pf5sXc9bTg4hJm6d",
}


def test_production_refuses_test_keys_the_simulator_and_a_missing_webhook_secret() -> None:
    with pytest.raises(ValidationError) as refused:
        BillingSettings(
            **PRODUCTION, stripe_secret_key="sk_test_123", stripe_api_base="http://127.0.0.1:12111"
        )
    text = str(refused.value)
    assert "must be a live key" in text
    assert "BILLING_STRIPE_API_BASE must be empty" in text
    assert "BILLING_STRIPE_WEBHOOK_SECRET" in text


def test_production_accepts_live_keys_and_never_shows_them() -> None:
    settings = BillingSettings(
        **PRODUCTION,
        stripe_secret_key="sk_live_abcdefghijklmnopqrstuvwxyz",
        stripe_webhook_secret="whsec_abcdefghijklmnopqrstuvwxyz0123",
    )
    assert "sk_live" not in repr(settings) and "whsec" not in repr(settings)
    assert settings.stripe_api_base is None  # the real Stripe API


def test_the_dunning_policy_comes_from_settings() -> None:
    policy = BillingSettings(
        HOSPEDA_ENV="test", remind_after_days=(2, 5), suspend_after_days=10, terminate_after_days=45
    ).dunning_policy()
    assert (policy.remind_after, policy.suspend_after, policy.terminate_after) == ((2, 5), 10, 45)
