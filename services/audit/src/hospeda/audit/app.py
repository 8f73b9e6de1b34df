"""Composition root of the audit service."""

from __future__ import annotations

from hospeda.audit.config import AuditSettings
from hospeda.audit.handlers import build_router
from hospeda.runtime.migrate import service_migrations
from hospeda.runtime.service import ServiceRuntime


def create_runtime(settings: AuditSettings | None = None) -> ServiceRuntime:
    settings = settings or AuditSettings()
    return ServiceRuntime(settings, router=build_router(), migrations=[service_migrations("audit")])
