"""Settings of the notify service (environment variables prefixed `NOTIFY_`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from hospeda.runtime.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    """The notify service's settings."""

    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore", populate_by_name=True)
    service_name = "notify"
