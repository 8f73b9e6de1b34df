"""Settings of the provisioning service (environment variables prefixed `PROVISIONING_`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from hospeda.runtime.settings import ServiceSettings


class ProvisioningSettings(ServiceSettings):
    """The provisioning service's settings."""

    model_config = SettingsConfigDict(
        env_prefix="PROVISIONING_", extra="ignore", populate_by_name=True
    )
    service_name = "provisioning"
