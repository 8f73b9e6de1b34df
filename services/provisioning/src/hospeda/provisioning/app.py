"""Composition root of the provisioning service."""

from __future__ import annotations

from hospeda.provisioning.config import ProvisioningSettings
from hospeda.provisioning.handlers import build_router
from hospeda.runtime.migrate import service_migrations
from hospeda.runtime.service import ServiceRuntime


def create_runtime(settings: ProvisioningSettings | None = None) -> ServiceRuntime:
    settings = settings or ProvisioningSettings()
    return ServiceRuntime(
        settings, router=build_router(), migrations=[service_migrations("provisioning")]
    )
