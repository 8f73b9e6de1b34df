"""Settings of the notify service (environment variables prefixed `NOTIFY_`)."""

from __future__ import annotations

import secrets
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from hospeda.notify.vapid import generate_vapid_key
from hospeda.runtime.settings import Environment, ServiceSettings


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

    vapid_private_key: SecretStr | None = Field(
        default=None,
        description="Web push (VAPID) private key: base64url of the raw P-256 key. "
        "Generated at start-up outside production when absent (`make run` keeps one).",
    )
    vapid_subject: str = Field(
        default="mailto:operacao@hospeda.localhost",
        description="Who push services contact about our pushes (`mailto:` or `https:`).",
    )
    push_timeout_s: float = Field(default=10.0, gt=0)
    push_concurrency: int = Field(default=20, ge=1, description="Pushes sent at once.")
    push_ttl_s: int = Field(
        default=86_400, ge=0, description="How long a push service keeps an undelivered push."
    )
    app_url: str = Field(
        default="http://localhost:8000",
        description="The web app; notifications link to it (inbox, preferences, unsubscribe).",
    )
    unsubscribe_secret: SecretStr = Field(
        default_factory=lambda: SecretStr(secrets.token_urlsafe(32)),
        description="Signs the one-click unsubscribe links (keep it stable: old links stop working).",
    )
    alert_window_s: float = Field(
        default=900.0,
        gt=0,
        description="One operator notice per alert key per window, then a digest.",
    )

    @model_validator(mode="after")
    def _vapid_key_outside_production(self) -> Self:
        if self.vapid_private_key is None and self.environment is not Environment.PRODUCTION:
            self.vapid_private_key = SecretStr(generate_vapid_key())
        return self

    def insecure_settings(self) -> list[str]:
        problems = super().insecure_settings()
        if not (self.smtp_starttls or self.smtp_tls):
            problems.append("NOTIFY_SMTP_STARTTLS or NOTIFY_SMTP_TLS must be on")
        if self.smtp_username is None or self.secret_is_weak(self.smtp_password, min_length=8):
            problems.append("NOTIFY_SMTP_USERNAME and a real NOTIFY_SMTP_PASSWORD are required")
        if self.vapid_private_key is None:
            problems.append("NOTIFY_VAPID_PRIVATE_KEY is required (web push)")
        if "unsubscribe_secret" not in self.model_fields_set or self.secret_is_weak(
            self.unsubscribe_secret
        ):
            problems.append("a stable, strong NOTIFY_UNSUBSCRIBE_SECRET is required")
        if not self.app_url.startswith("https://"):
            problems.append("NOTIFY_APP_URL must be https://")
        return problems
