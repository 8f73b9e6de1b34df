"""Settings of the dns service (environment variables prefixed `DNS_`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from hospeda.runtime.settings import ServiceSettings


class DnsSettings(ServiceSettings):
    """The dns service's settings."""

    model_config = SettingsConfigDict(env_prefix="DNS_", extra="ignore", populate_by_name=True)
    service_name = "dns"
