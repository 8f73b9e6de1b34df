"""Composition root of the notify service."""

from __future__ import annotations

from hospeda.notify.config import NotifySettings
from hospeda.notify.handlers import build_router
from hospeda.runtime.migrate import service_migrations
from hospeda.runtime.service import ServiceRuntime


def create_runtime(settings: NotifySettings | None = None) -> ServiceRuntime:
    settings = settings or NotifySettings()
    return ServiceRuntime(
        settings, router=build_router(), migrations=[service_migrations("notify")]
    )
