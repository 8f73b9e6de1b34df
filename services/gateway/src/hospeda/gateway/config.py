"""Settings of the gateway (environment variables prefixed `GATEWAY_`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from hospeda.runtime.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """The gateway's settings."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)
    service_name = "gateway"

    host: str = Field(default="127.0.0.1", description="Where the HTTP server listens.")
    port: int = Field(default=8000, ge=1, le=65535)
