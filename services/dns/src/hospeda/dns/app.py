"""Composition root of the dns service."""

from __future__ import annotations

from hospeda.dns.config import DnsSettings
from hospeda.dns.handlers import build_router
from hospeda.runtime.migrate import service_migrations
from hospeda.runtime.service import ServiceRuntime


def create_runtime(settings: DnsSettings | None = None) -> ServiceRuntime:
    settings = settings or DnsSettings()
    return ServiceRuntime(settings, router=build_router(), migrations=[service_migrations("dns")])
