"""Settings every service shares, read from the environment.

Safe defaults for a laptop (`make run`); in production (``HOSPEDA_ENV=production``)
unsafe values are refused at start-up instead of silently used.
"""

from __future__ import annotations

import os
import socket
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Literal, Self
from urllib.parse import urlsplit

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


class KafkaClientSettings(BaseSettings):
    """How every Kafka client of a process reaches the cluster: the services
    and the operator's command line. Locally: PLAINTEXT, no credentials. In
    production: SASL (SCRAM) over TLS, one principal per service."""

    # An empty variable means "not set" (an env file's `KEY=` line, `${KEY:-}` in compose,
    # an optional Secret key): the default applies, e.g. no Stripe key → card payments off.
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, env_ignore_empty=True)

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", validation_alias="KAFKA_SECURITY_PROTOCOL"
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = Field(
        default="SCRAM-SHA-512", validation_alias="KAFKA_SASL_MECHANISM"
    )
    kafka_sasl_username: str | None = Field(
        default=None,
        validation_alias="KAFKA_SASL_USERNAME",
        description="This service's own principal (its ACLs allow only what it needs).",
    )
    kafka_sasl_password: SecretStr | None = Field(
        default=None, validation_alias="KAFKA_SASL_PASSWORD"
    )
    kafka_ssl_ca_file: Path | None = Field(
        default=None,
        validation_alias="KAFKA_SSL_CA_FILE",
        description="PEM file of the CA that signed the brokers' certificates; "
        "empty: the system's trusted CAs.",
    )

    @property
    def kafka_uses_sasl(self) -> bool:
        return self.kafka_security_protocol.startswith("SASL_")

    @property
    def kafka_uses_tls(self) -> bool:
        return self.kafka_security_protocol in ("SSL", "SASL_SSL")

    def kafka_insecure_settings(self) -> list[str]:
        """What production refuses in the Kafka connection."""
        problems = []
        if self.kafka_security_protocol != "SASL_SSL":
            problems.append("KAFKA_SECURITY_PROTOCOL must be SASL_SSL (SCRAM over TLS)")
        if not self.kafka_sasl_username or self.secret_is_weak(
            self.kafka_sasl_password, min_length=16
        ):
            problems.append("KAFKA_SASL_USERNAME and a strong KAFKA_SASL_PASSWORD are required")
        if self.kafka_ssl_ca_file is not None and not self.kafka_ssl_ca_file.is_file():
            problems.append(f"KAFKA_SSL_CA_FILE {self.kafka_ssl_ca_file} is not a readable file")
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


class ServiceSettings(KafkaClientSettings):
    """Settings shared by all services. Subclasses set ``service_name`` and an
    ``env_prefix`` (e.g. ``BILLING_``) for their own fields; the shared fields
    below use fixed names, the same for every process."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, env_ignore_empty=True)

    service_name: ClassVar[str] = "service"
    uses_redis: ClassVar[bool] = False
    """Whether this service talks to Redis (production then requires an ACL user)."""

    environment: Environment = Field(
        default=Environment.DEVELOPMENT, validation_alias="HOSPEDA_ENV"
    )
    database_url: str = Field(
        default="",
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL; empty means a SQLite file under the data directory.",
        repr=False,  # it carries the role's password
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias="REDIS_URL",
        repr=False,  # it carries the ACL user's password
        description="`redis://user:password@host:6379/0` (an ACL user), or `rediss://…` for TLS "
        "(`?ssl_ca_certs=/path/ca.pem` for a private CA).",
    )
    data_dir: Path = Field(default=Path(".hospeda/data"), validation_alias="HOSPEDA_DATA_DIR")
    instance_id: str = Field(
        default_factory=_default_instance_id, validation_alias="HOSPEDA_INSTANCE_ID"
    )
    topic_partitions: int = Field(default=6, ge=1, validation_alias="HOSPEDA_TOPIC_PARTITIONS")
    topic_replication: int = Field(default=1, ge=1, validation_alias="HOSPEDA_TOPIC_REPLICATION")
    create_topics: bool = Field(
        default=True,
        validation_alias="HOSPEDA_CREATE_TOPICS",
        description="Create missing topics at start-up. Off where the deploy creates them "
        "(the topic job, Strimzi) and the services' principals may not.",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT",
        description="OTLP/HTTP collector for traces (`…/v1/traces` is appended); empty: "
        "spans are not recorded (trace ids still travel).",
    )
    trace_console: bool = Field(
        default=False,
        validation_alias="HOSPEDA_TRACE_CONSOLE",
        description="Print every finished span on stderr, one JSON line each.",
    )
    metrics_port: int = Field(
        default=9464,
        ge=0,
        le=65535,
        validation_alias="HOSPEDA_METRICS_PORT",
        description="Port of the Prometheus /metrics endpoint; 0: none.",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        validation_alias="HOSPEDA_METRICS_HOST",
        description="Address the /metrics endpoint listens on (0.0.0.0 in a container).",
    )
    metrics_interval_s: float = Field(
        default=15.0,
        gt=0,
        validation_alias="HOSPEDA_METRICS_INTERVAL_S",
        description="How often jobs, outbox backlog, consumer lag and DLQ sizes are sampled.",
    )
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
    heartbeat_file: Path | None = Field(
        default=None,
        validation_alias="HOSPEDA_HEARTBEAT_FILE",
        description="Touched every few seconds while the service runs, for container health "
        "checks (`python -m hospeda.runtime.heartbeat <file>`); empty: none.",
    )
    migrate_on_start: bool = Field(
        default=True,
        validation_alias="HOSPEDA_MIGRATE_ON_START",
        description="Bring the database schema up to date at start-up. Off where a migration "
        "job does it first (`python -m hospeda.<service> migrate`, as the schema's owner).",
    )

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
        problems += self.kafka_insecure_settings()
        if self.uses_redis and not redis_is_authenticated(self.redis_url):
            problems.append("REDIS_URL must name an ACL user and its password (redis://user:pw@…)")
        return problems


def redis_is_authenticated(url: str) -> bool:
    """True when ``url`` logs in as a named ACL user with a password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return False
    return bool(parts.username) and len(parts.password or "") >= 16
