"""Settings of the provisioning service (environment variables prefixed `PROVISIONING_`)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from hospeda.runtime.jobs import RetryPolicy
from hospeda.runtime.settings import ServiceSettings


class WhmServerSettings(BaseModel):
    """One WHM server of the inventory. ``url`` is WHM's API origin
    (``https://whm1.example.com:2087``, or a simulator's); ``token`` is a WHM
    API token for ``user``. Stored encrypted in the database at start-up."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    url: str = Field(min_length=8)
    user: str = "root"
    token: SecretStr
    max_accounts: int = Field(default=500, ge=1)
    concurrency: int = Field(
        default=4, ge=1, description="WHM calls (jobs) at once on this server."
    )
    packages: tuple[str, ...] = Field(
        min_length=1, description="The WHM packages (plans) this server offers."
    )
    verify_tls: bool = True


class PlanProfile(BaseModel):
    """What a new account of a plan gets besides the account itself."""

    model_config = ConfigDict(frozen=True)

    databases: int = Field(default=1, ge=0, le=10)
    mailboxes: tuple[str, ...] = ("contato",)
    mailbox_quota_mb: int = Field(default=1024, ge=0)
    autossl: bool = True


class ProvisioningSettings(ServiceSettings):
    """The provisioning service's settings."""

    model_config = SettingsConfigDict(
        env_prefix="PROVISIONING_", extra="ignore", populate_by_name=True
    )
    service_name = "provisioning"

    whm_servers: tuple[WhmServerSettings, ...] = Field(
        default=(),
        description="JSON list: the WHM servers to seed the inventory with at start-up.",
    )
    credentials_key: SecretStr = Field(
        default=SecretStr("dev-provisioning-credentials-key-not-for-production"),
        description="Encrypts server credentials at rest; comma-separated to rotate (first encrypts).",
    )
    whm_timeout_s: float = Field(default=30.0, gt=0)
    whm_create_timeout_s: float = Field(
        default=300.0, gt=0, description="createacct / removeacct may take minutes."
    )
    retry_attempts: int = Field(default=5, ge=1)
    retry_base_delay_s: float = Field(default=5.0, ge=0)
    retry_factor: float = Field(default=2.0, ge=1)
    retry_max_delay_s: float = Field(default=3600.0, gt=0)
    retry_jitter: float = Field(default=0.1, ge=0, le=1)
    job_concurrency: int = Field(default=20, ge=1)
    job_poll_interval_s: float = Field(default=0.25, gt=0)
    job_lease_s: float = Field(default=60.0, gt=0)
    autossl_poll_s: float = Field(default=2.0, gt=0)
    autossl_wait_s: float = Field(
        default=120.0, ge=0, description="How long one attempt waits for AutoSSL before retrying."
    )
    plan_profiles: dict[str, PlanProfile] = Field(default_factory=dict)
    default_plan_profile: PlanProfile = PlanProfile()

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.retry_attempts,
            base_delay=timedelta(seconds=self.retry_base_delay_s),
            factor=self.retry_factor,
            max_delay=timedelta(seconds=self.retry_max_delay_s),
            jitter=self.retry_jitter,
        )

    def plan_profile(self, plan_code: str) -> PlanProfile:
        return self.plan_profiles.get(plan_code, self.default_plan_profile)

    def insecure_settings(self) -> list[str]:
        problems = super().insecure_settings()
        if self.secret_is_weak(self.credentials_key):
            problems.append("PROVISIONING_CREDENTIALS_KEY must be a strong secret (32+ characters)")
        if not self.whm_servers:
            problems.append("PROVISIONING_WHM_SERVERS must list at least one WHM server")
        for server in self.whm_servers:
            if not server.url.startswith("https://"):
                problems.append(f"WHM server {server.name} must be reached over https://")
            if not server.verify_tls:
                problems.append(f"WHM server {server.name} must verify TLS certificates")
            if self.secret_is_weak(server.token, min_length=24):
                problems.append(f"WHM server {server.name} needs a real API token")
        return problems
