"""Settings every service shares, read from the environment.

Safe defaults for a laptop (`make run`); in production (``HOSPEDA_ENV=production``)
unsafe values are refused at start-up instead of silently used.
"""

from __future__ import annotations

import os
import socket
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class InsecureSettings(ValueError):
    """Production settings that would be unsafe to run with."""


def _default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class ServiceSettings(BaseSettings):
    """Settings shared by all services. Subclasses set ``service_name`` and an
    ``env_prefix`` (e.g. ``BILLING_``) for their own fields; the shared fields
    below use fixed names, the same for every process."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "service"

    environment: Environment = Field(
        default=Environment.DEVELOPMENT, validation_alias="HOSPEDA_ENV"
    )
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    database_url: str = Field(
        default="",
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL; empty means a SQLite file under the data directory.",
    )
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    data_dir: Path = Field(default=Path(".hospeda/data"), validation_alias="HOSPEDA_DATA_DIR")
    instance_id: str = Field(
        default_factory=_default_instance_id, validation_alias="HOSPEDA_INSTANCE_ID"
    )
    topic_partitions: int = Field(default=6, ge=1, validation_alias="HOSPEDA_TOPIC_PARTITIONS")
    topic_replication: int = Field(default=1, ge=1, validation_alias="HOSPEDA_TOPIC_REPLICATION")
    otlp_endpoint: str | None = Field(default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    log_level: str = Field(default="INFO", validation_alias="HOSPEDA_LOG_LEVEL")
    log_json: bool = Field(default=True, validation_alias="HOSPEDA_LOG_JSON")
    kafka_session_timeout_ms: int = Field(
        default=6000,
        ge=1000,
        validation_alias="HOSPEDA_KAFKA_SESSION_TIMEOUT_MS",
        description="Consumer group session timeout; the local broker waits half of it before a first join.",
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=20, ge=1, validation_alias="HOSPEDA_KAFKA_FETCH_MAX_WAIT_MS"
    )
    demo: bool = Field(
        default=False,
        validation_alias="HOSPEDA_DEMO",
        description="Seed demo data at start-up (set by `make run`; never in production).",
    )
    query_timeout_s: float = Field(default=3.0, gt=0, validation_alias="HOSPEDA_QUERY_TIMEOUT_S")

    @model_validator(mode="after")
    def _fill_defaults(self) -> Self:
        if not self.database_url:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / self.service_name}.db"
        return self

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Self:
        if self.environment is Environment.PRODUCTION:
            problems = self.insecure_settings()
            if problems:
                raise InsecureSettings("refusing to start in production: " + "; ".join(problems))
        return self

    def insecure_settings(self) -> list[str]:
        """What would be unsafe in production. Subclasses extend the list."""
        problems = []
        if self.database_url.startswith("sqlite"):
            problems.append("DATABASE_URL must point at PostgreSQL, not SQLite")
        if self.demo:
            problems.append("HOSPEDA_DEMO must be off")
        if self.topic_replication < 3:
            problems.append("HOSPEDA_TOPIC_REPLICATION must be at least 3")
        return problems

    @staticmethod
    def secret_is_weak(secret: SecretStr | None, *, min_length: int = 32) -> bool:
        """True for a missing, short or placeholder secret."""
        value = secret.get_secret_value() if secret is not None else ""
        lowered = value.lower()
        return (
            len(value) < min_length
            or lowered.startswith(("dev-", "test-"))
            or "change-me" in lowered
        )
