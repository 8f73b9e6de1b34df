"""Settings of the audit service (environment variables prefixed `AUDIT_`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from hospeda.runtime.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    """The audit service's settings."""

    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="ignore", populate_by_name=True)
    service_name = "audit"
