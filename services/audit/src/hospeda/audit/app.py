"""Composition root of the audit service."""

from __future__ import annotations

from hospeda.audit.config import AuditSettings
from hospeda.audit.grants import refuse_a_role_that_can_rewrite_the_trail
from hospeda.audit.handlers import build_router
from hospeda.runtime.migrate import service_migrations
from hospeda.runtime.service import ServiceRuntime


def create_runtime(settings: AuditSettings | None = None) -> ServiceRuntime:
    settings = settings or AuditSettings()
    runtime = ServiceRuntime(
        settings, router=build_router(), migrations=[service_migrations("audit")]
    )
    runtime.on_start(lambda: refuse_a_role_that_can_rewrite_the_trail(runtime.db, settings))
    return runtime
