"""Settings of the audit service (environment variables prefixed `AUDIT_`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from hospeda.audit.domain import CATEGORIES, DEFAULT_RETENTION_DAYS, MIN_RETENTION_DAYS
from hospeda.runtime.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    """The audit service's settings.

    Keys never appear in logs or errors (``SecretStr``). Without them outside
    production, ``make run`` and the tests get local ones generated under the
    data directory (``audit-signing-key.pem``, ``audit-data-key``)."""

    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="ignore", populate_by_name=True)
    service_name = "audit"

    signing_key: SecretStr | None = Field(
        default=None,
        description="Ed25519 private key that signs checkpoints: PEM (PKCS#8) or the "
        "base64 32-byte seed.",
    )
    signing_key_file: Path | None = Field(
        default=None, description="A PEM file with the signing key (instead of AUDIT_SIGNING_KEY)."
    )
    verify_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Base64 raw public keys of retired signing keys, comma-separated: "
        "their checkpoints still verify after a rotation.",
    )
    data_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s), comma-separated, that seal the per-subject data keys "
        "(the first seals, all open: add a new one in front to rotate).",
    )
    data_key_file: Path | None = Field(default=None, description="A file with AUDIT_DATA_KEY.")
    origin: str = Field(
        default="hospeda.audit", min_length=1, max_length=200, description="Names the log."
    )
    checkpoint_interval_s: float = Field(
        default=60.0, gt=0, le=60, description="A signed checkpoint at least this often."
    )
    retention_days: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_RETENTION_DAYS),
        description="Days personal data stays readable, per category, e.g. "
        "`access=183,billing=1825` (access logs: at least 183, Marco Civil Art. 15).",
    )
    retention_interval_s: float = Field(default=6 * 3600.0, gt=0)

    @field_validator("verify_keys", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("retention_days", mode="before")
    @classmethod
    def _categories(cls, value: Any) -> Any:
        if isinstance(value, str):
            pairs = (item.split("=", 1) for item in value.split(",") if item.strip())
            value = {k.strip(): int(v) for k, v in pairs}
        return {**DEFAULT_RETENTION_DAYS, **value} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _retention_within_the_law(self) -> AuditSettings:
        unknown = set(self.retention_days) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"AUDIT_RETENTION_DAYS: unknown categories {sorted(unknown)}")
        for category, minimum in MIN_RETENTION_DAYS.items():
            if self.retention_days[category] < minimum:
                raise ValueError(
                    f"AUDIT_RETENTION_DAYS: {category} must be kept at least {minimum} days "
                    "(Marco Civil da Internet, Art. 15)"
                )
        return self

    @property
    def has_signing_key(self) -> bool:
        return self.signing_key is not None or self.signing_key_file is not None

    @property
    def has_data_key(self) -> bool:
        return self.data_key is not None or self.data_key_file is not None

    def insecure_settings(self) -> list[str]:
        problems = super().insecure_settings()
        if not self.has_signing_key:
            problems.append("AUDIT_SIGNING_KEY or AUDIT_SIGNING_KEY_FILE must hold the signing key")
        if not self.has_data_key:
            problems.append("AUDIT_DATA_KEY or AUDIT_DATA_KEY_FILE must hold the data key")
        elif self.data_key is not None and self.secret_is_weak(self.data_key):
            problems.append("AUDIT_DATA_KEY is too weak")
        return problems
