"""Settings of the gateway (environment variables prefixed `GATEWAY_`)."""

from __future__ import annotations

import ipaddress
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from hospeda.runtime.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """The gateway's settings."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)
    service_name = "gateway"
    uses_redis = True

    host: str = Field(default="127.0.0.1", description="Where the HTTP server listens.")
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = Field(
        default="http://localhost:8000",
        description="The address people open; links in e-mails start with it.",
    )

    trusted_proxies: str = Field(
        default="",
        description="Comma-separated CIDRs of the proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto the gateway believes (e.g. 10.250.0.2/32); from anyone else "
        "they are ignored. Empty: no proxy. Production requires it set explicitly.",
    )

    # Payments in the web app
    pix_method: Literal["pix", "pix_stripe"] = Field(
        default="pix_stripe",
        description="What the invoice page's Pix button starts: `pix` (the PSP billing "
        "settles itself, BILLING_PIX_PSP_URL) or `pix_stripe` (Pix through Stripe).",
    )
    demo_pix_bank_url: str | None = Field(
        default=None,
        description="`make run` only: the PSP simulator's test bank (`…/pagar/`); the invoice "
        "page links a Pix charge to it so a person trying the platform can pay.",
    )

    # Sessions and cookies
    cookie_secure: bool = Field(
        default=True,
        description="Secure cookies (browsers accept them on http://localhost too). "
        "Off only for a plain-HTTP host other than localhost, never in production.",
    )
    session_idle_s: int = Field(default=8 * 3600, ge=60, description="Idle timeout of a session.")
    session_max_s: int = Field(default=7 * 86400, ge=60, description="Absolute session lifetime.")
    mfa_pending_s: int = Field(
        default=300, ge=30, description="Time to type the 2FA code after the password."
    )

    reauth_window_s: int = Field(
        default=600,
        ge=1,
        description="How long a sign-in or re-authentication allows sensitive changes "
        "(2FA on/off, API tokens, password, e-mail, staff actions).",
    )

    # Passwords (argon2id; RFC 9106 second recommended option by default)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    # Brute-force protection
    login_window_s: int = Field(default=900, ge=1)
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=30, ge=1)
    email_requests_per_window: int = Field(
        default=5, ge=1, description="Sign-ups, resets and re-sent e-mails per IP and window."
    )

    # Single-use links
    verify_email_ttl_s: int = Field(default=48 * 3600, ge=60)
    password_reset_ttl_s: int = Field(default=3600, ge=60)
    invitation_ttl_s: int = Field(default=7 * 86400, ge=60)

    totp_key: SecretStr = Field(
        default=SecretStr("dev-gateway-totp-key-not-for-production"),
        description="Encrypts TOTP secrets at rest; comma-separated to rotate (first encrypts).",
    )
    require_staff_2fa: bool = Field(
        default=True, description="Staff permissions only work once the person has 2FA on."
    )
    # Passkeys (WebAuthn): the site they belong to, and the pages allowed to use them
    webauthn_rp_id: str = Field(
        default="",
        max_length=253,
        description="The passkeys' site (a domain, never an IP); the public URL's host by default.",
    )
    webauthn_origins: str = Field(
        default="",
        description="Comma-separated origins allowed to use passkeys; the public URL by default.",
    )
    webauthn_challenge_ttl_s: int = Field(
        default=300, ge=30, le=900, description="Time to answer a passkey prompt."
    )
    idempotency_ttl_s: int = Field(default=86400, ge=60)
    events_heartbeat_s: float = Field(
        default=15.0, gt=0, description="How often a live stream re-checks its session."
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        for cidr in (c.strip() for c in value.split(",") if c.strip()):
            ipaddress.ip_network(cidr, strict=False)  # ValueError: not an address or CIDR
        return value

    @property
    def trusted_networks(self) -> list[str]:
        return [c.strip() for c in self.trusted_proxies.split(",") if c.strip()]

    @model_validator(mode="after")
    def _public_url_follows_port(self) -> Self:
        if "public_url" not in self.model_fields_set:
            self.public_url = f"http://localhost:{self.port}"
        if not self.webauthn_rp_id:
            self.webauthn_rp_id = urlsplit(self.public_url).hostname or "localhost"
        if not self.webauthn_origins:
            self.webauthn_origins = self.public_url.rstrip("/")
        return self

    @property
    def passkey_origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.webauthn_origins.split(",") if o.strip()]

    def insecure_settings(self) -> list[str]:
        problems = super().insecure_settings()
        if not self.cookie_secure:
            problems.append("GATEWAY_COOKIE_SECURE must be on")
        if self.demo_pix_bank_url:
            problems.append("GATEWAY_DEMO_PIX_BANK_URL must be empty (a simulator's test bank)")
        if not self.public_url.startswith("https://"):
            problems.append("GATEWAY_PUBLIC_URL must be https://")
        if self.argon2_memory_kib < 19456 or self.argon2_time_cost < 2:
            problems.append("argon2 needs at least 19 MiB and 2 passes (OWASP)")
        if self.secret_is_weak(self.totp_key):
            problems.append("GATEWAY_TOTP_KEY must be a long random secret")
        if any(not o.startswith("https://") for o in self.passkey_origins):
            problems.append("GATEWAY_WEBAUTHN_ORIGINS must all be https://")
        if "trusted_proxies" not in self.model_fields_set:
            problems.append("GATEWAY_TRUSTED_PROXIES must be set (the TLS proxy's CIDR, or empty)")
        if not self.require_staff_2fa:
            problems.append("GATEWAY_REQUIRE_STAFF_2FA must be on")
        return problems
