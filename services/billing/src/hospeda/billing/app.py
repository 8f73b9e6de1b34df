"""Composition root of the billing service."""

from __future__ import annotations

from hospeda.billing.config import BillingSettings
from hospeda.billing.handlers import build_router
from hospeda.runtime.migrate import service_migrations
from hospeda.runtime.service import ServiceRuntime


def create_runtime(settings: BillingSettings | None = None) -> ServiceRuntime:
    settings = settings or BillingSettings()
    return ServiceRuntime(
        settings, router=build_router(), migrations=[service_migrations("billing")]
    )
