"""Settings of the dns service (environment variables prefixed `DNS_`)."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from hospeda.runtime.settings import ServiceSettings

IANA_ROOT_SERVERS = (
    "198.41.0.4",  # a.root-servers.net
    "170.247.170.2",  # b
    "192.33.4.12",  # c
    "199.7.91.13",  # d
    "192.203.230.10",  # e
    "192.5.5.241",  # f
    "192.112.36.4",  # g
    "198.97.190.53",  # h
    "192.36.148.17",  # i
    "192.58.128.30",  # j
    "193.0.14.129",  # k
    "199.7.83.42",  # l
    "202.12.27.33",  # m
)
DEV_CLOUDFLARE_TOKEN = "dev-cloudflare-token"  # noqa: S105 - the simulator's token, refused in production


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class DnsSettings(ServiceSettings):
    """The dns service's settings.

    By default the Cloudflare client talks to the real API
    (``https://api.cloudflare.com/client/v4``) and the delegation checker walks
    down from the IANA root servers on port 53; ``make run`` and the tests point
    both at local simulators (``DNS_CLOUDFLARE_BASE_URL``, ``DNS_ROOT_SERVERS``,
    ``DNS_RESOLVER_PORT``)."""

    model_config = SettingsConfigDict(env_prefix="DNS_", extra="ignore", populate_by_name=True)
    service_name = "dns"
    uses_redis = True

    # --- Cloudflare ---
    cloudflare_api_token: SecretStr = Field(
        default=SecretStr(DEV_CLOUDFLARE_TOKEN),
        description="API token with Zone:Edit and DNS:Edit on the account.",
    )
    cloudflare_account_id: str = Field(default="hospeda-dev-account", min_length=1)
    cloudflare_base_url: str | None = Field(
        default=None, description="Empty means the real API; set to a simulator's URL."
    )
    cloudflare_timeout_s: float = Field(default=15.0, gt=0)
    cloudflare_rate_limit: int = Field(
        default=1150,
        ge=1,
        description="Requests per window per token. Cloudflare allows 1,200 per 5 minutes; "
        "the margin covers requests already in flight when a window turns.",
    )
    cloudflare_rate_window_s: float = Field(default=300.0, gt=0)
    cloudflare_concurrency: int = Field(
        default=4, ge=1, description="Cloudflare jobs running at once, across all workers."
    )
    cloudflare_max_429_waits: int = Field(
        default=5, ge=0, description="429 answers one request may wait out before its job retries."
    )
    delete_zone_on_termination: bool = True
    job_retry_base_s: float = Field(
        default=5.0, gt=0, description="First wait before a failed Cloudflare job runs again."
    )

    # --- delegation ---
    own_nameservers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="e.g. ns1.hospeda.com.br,ns2.hospeda.com.br: what customers must set. "
        "Empty means the nameservers Cloudflare assigned to each zone.",
    )
    root_servers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(IANA_ROOT_SERVERS),
        description="Where delegation checks start walking down the DNS tree.",
    )
    resolver_port: int = Field(default=53, ge=1, le=65535)
    # A server that does not answer costs tries × timeout; the expected nameservers
    # are asked at once, so a check with one dead server takes about that long.
    # Authoritative servers answer in tens of milliseconds: 1.5 s leaves room for
    # a slow path, and a second try covers one lost UDP datagram.
    resolver_timeout_s: float = Field(
        default=1.5, gt=0, le=30, description="Seconds to wait for one DNS answer."
    )
    resolver_tries: int = Field(
        default=2,
        ge=1,
        le=5,
        description="Times one query is sent before the server counts as down.",
    )
    delegation_wait_hours: float = Field(
        default=72.0, gt=0, description="How long a new domain may take to be delegated."
    )
    delegation_retry_base_s: float = Field(default=60.0, gt=0)
    delegation_retry_max_s: float = Field(default=3600.0, gt=0)
    recheck_interval_s: float = Field(
        default=6 * 3600.0, gt=0, description="How often delegated domains are verified again."
    )
    recheck_tick_s: float = Field(default=30.0, gt=0)
    worker_concurrency: int = Field(default=20, ge=1)
    provider_name: str = Field(default="Hospeda", description="Shown to customers.")

    @field_validator("own_nameservers", "root_servers", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip().lower().rstrip(".") for item in value.split(",") if item.strip()]
        return value

    @field_validator("root_servers")
    @classmethod
    def _addresses_only(cls, value: list[str]) -> list[str]:
        # Checks start here, before any name can be resolved: names cannot work.
        if not value:
            raise ValueError("DNS_ROOT_SERVERS needs at least one IP address")
        wrong = [item for item in value if not _is_ip(item)]
        if wrong:
            raise ValueError(
                "DNS_ROOT_SERVERS takes IP addresses (IPv4 or IPv6), not names: " + ", ".join(wrong)
            )
        return value

    @property
    def cloudflare_target(self) -> str:
        """The job target that caps concurrent Cloudflare work for this account."""
        return f"cloudflare:{self.cloudflare_account_id}"

    @property
    def delegation_wait(self) -> timedelta:
        return timedelta(hours=self.delegation_wait_hours)

    def insecure_settings(self) -> list[str]:
        problems = super().insecure_settings()
        token = self.cloudflare_api_token
        if token.get_secret_value() == DEV_CLOUDFLARE_TOKEN or self.secret_is_weak(
            token, min_length=20
        ):
            problems.append("DNS_CLOUDFLARE_API_TOKEN must be a real Cloudflare API token")
        if self.cloudflare_base_url and self.cloudflare_base_url.startswith("http://"):
            problems.append("DNS_CLOUDFLARE_BASE_URL must use https (or be empty for Cloudflare)")
        if self.cloudflare_rate_limit > 1200:
            problems.append("DNS_CLOUDFLARE_RATE_LIMIT must stay within Cloudflare's 1,200")
        return problems
