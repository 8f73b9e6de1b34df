"""Settings of the notify service (environment variables prefixed `NOTIFY_`)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from hospeda.runtime.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    """The notify service's settings."""

    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore", populate_by_name=True)
    service_name = "notify"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout_s: float = Field(default=15.0, gt=0)
    mail_from: str = "Hospeda <nao-responda@hospeda.localhost>"
    smtp_concurrency: int = Field(
        default=10, ge=1, description="E-mails handed to the SMTP server at once."
    )
    retry_base_delay_s: float = Field(
        default=5.0, gt=0, description="First retry after this; doubles each time."
    )
    retry_max_attempts: int = Field(default=5, ge=1)

    def insecure_settings(self) -> list[str]:
        problems = super().insecure_settings()
        if not (self.smtp_starttls or self.smtp_tls):
            problems.append("NOTIFY_SMTP_STARTTLS or NOTIFY_SMTP_TLS must be on")
        if self.smtp_username is None or self.secret_is_weak(self.smtp_password, min_length=8):
            problems.append("NOTIFY_SMTP_USERNAME and a real NOTIFY_SMTP_PASSWORD are required")
        return problems
