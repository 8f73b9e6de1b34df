"""What every service process gets in production, once for both stacks.

A value is literal text in which ``{NAME}`` stands for one of the operator's
variables (env.py) — compose interpolates ``${NAME}``, Kubernetes reads it
from the `hospeda-env` Secret — or a ``Per`` with one text per stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hospeda.devstack.deploy.kafka import SERVICES, principal_name

Target = Literal["compose", "k8s"]


@dataclass(frozen=True)
class Per:
    compose: str
    k8s: str

    def on(self, target: Target) -> str:
        return self.compose if target == "compose" else self.k8s


@dataclass(frozen=True)
class KafkaPassword:
    """A principal's SCRAM password: the operator's in compose, the Secret the
    Strimzi user operator writes in Kubernetes."""

    service: str


Value = str | Per | KafkaPassword

KAFKA_CA_FILE = "/etc/hospeda/kafka-ca/ca.crt"
HEARTBEAT_FILE = "/tmp/hospeda.heartbeat"  # noqa: S108 - an emptyDir / the container's own /tmp
GATEWAY_PORT = 8000
WEBHOOK_PORT = 8010
METRICS_PORT = 9464
"""Where Prometheus looks for each service's /metrics (``HOSPEDA_METRICS_PORT``)."""
COMPOSE_PROXY = "10.250.0.2"
"""The TLS proxy's fixed address on compose's `edge` network."""

REPLICAS = {"billing": 2, "provisioning": 2, "dns": 2, "notify": 2, "audit": 1, "gateway": 2}
"""Audit stays one: each tenant's chain is appended in order by one writer."""

REDIS_DB = {"gateway": 0, "dns": 1}


def database_url(service: str, *, owner: bool = False) -> str:
    role = f"hospeda_{service}_owner" if owner else f"hospeda_{service}"
    secret = f"POSTGRES_PASSWORD_{service.upper()}{'_OWNER' if owner else ''}"
    return f"postgresql://{role}:{{{secret}}}@postgres:5432/hospeda_{service}"


def _shared(service: str) -> dict[str, Value]:
    env: dict[str, Value] = {
        "HOSPEDA_ENV": "production",
        "HOSPEDA_LOG_JSON": "true",
        "HOSPEDA_TOPIC_PARTITIONS": "6",
        "HOSPEDA_TOPIC_REPLICATION": "3",
        "HOSPEDA_CREATE_TOPICS": "false",  # the topic job / Strimzi made them
        "HOSPEDA_MIGRATE_ON_START": "false",  # the migration job did, as the schema's owner
        "KAFKA_BOOTSTRAP_SERVERS": Per(
            "kafka-1:9093,kafka-2:9093,kafka-3:9093", "hospeda-kafka-bootstrap:9093"
        ),
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": principal_name(service),
        "KAFKA_SASL_PASSWORD": KafkaPassword(service),
        "KAFKA_SSL_CA_FILE": KAFKA_CA_FILE,
        "OTEL_EXPORTER_OTLP_ENDPOINT": Per(
            "http://otel-collector:4318", "{OTEL_EXPORTER_OTLP_ENDPOINT}"
        ),
        "DATABASE_URL": database_url(service),
        # /metrics for Prometheus, on the container's own address
        "HOSPEDA_METRICS_HOST": "0.0.0.0",  # noqa: S104 - inside its container
        "HOSPEDA_METRICS_PORT": str(METRICS_PORT),
    }
    if service in REDIS_DB:
        env["REDIS_URL"] = (
            f"redis://{principal_name(service)}:{{REDIS_PASSWORD_{service.upper()}}}"
            f"@redis:6379/{REDIS_DB[service]}"
        )
    if service != "gateway":
        env["HOSPEDA_HEARTBEAT_FILE"] = HEARTBEAT_FILE
    return env


OWN: dict[str, dict[str, Value]] = {
    "gateway": {
        "GATEWAY_HOST": "0.0.0.0",  # noqa: S104 - inside its container, behind the proxy
        "GATEWAY_PORT": str(GATEWAY_PORT),
        "GATEWAY_PUBLIC_URL": "https://{HOSPEDA_DOMAIN}",
        "GATEWAY_TOTP_KEY": "{GATEWAY_TOTP_KEY}",
        "GATEWAY_TRUSTED_PROXIES": Per(f"{COMPOSE_PROXY}/32", "{GATEWAY_TRUSTED_PROXIES}"),
        "GATEWAY_PIX_METHOD": "{GATEWAY_PIX_METHOD}",
    },
    "billing": {
        "BILLING_WEBHOOK_HOST": "0.0.0.0",  # noqa: S104 - reached through the proxy only
        "BILLING_WEBHOOK_PORT": str(WEBHOOK_PORT),
        "BILLING_APP_URL": "https://{HOSPEDA_DOMAIN}/app",
        "BILLING_RETURN_URL": "https://{HOSPEDA_DOMAIN}/app/pagamento/retorno",
        "BILLING_STRIPE_SECRET_KEY": "{BILLING_STRIPE_SECRET_KEY}",
        "BILLING_STRIPE_WEBHOOK_SECRET": "{BILLING_STRIPE_WEBHOOK_SECRET}",
        "BILLING_PIX_KEY": "{BILLING_PIX_KEY}",
        "BILLING_PIX_MERCHANT_NAME": "{BILLING_PIX_MERCHANT_NAME}",
        "BILLING_PIX_MERCHANT_CITY": "{BILLING_PIX_MERCHANT_CITY}",
        "BILLING_PIX_PSP_URL": "{BILLING_PIX_PSP_URL}",
        "BILLING_PIX_PSP_CLIENT_ID": "{BILLING_PIX_PSP_CLIENT_ID}",
        "BILLING_PIX_PSP_CLIENT_SECRET": "{BILLING_PIX_PSP_CLIENT_SECRET}",
        "BILLING_PIX_WEBHOOK_SECRET": "{BILLING_PIX_WEBHOOK_SECRET}",
        "BILLING_PIX_WEBHOOK_URL": "https://{HOSPEDA_DOMAIN}/webhooks/pix",
    },
    "provisioning": {
        "PROVISIONING_CREDENTIALS_KEY": "{PROVISIONING_CREDENTIALS_KEY}",
        "PROVISIONING_WHM_SERVERS": "{PROVISIONING_WHM_SERVERS}",
    },
    "dns": {
        "DNS_CLOUDFLARE_API_TOKEN": "{DNS_CLOUDFLARE_API_TOKEN}",
        "DNS_CLOUDFLARE_ACCOUNT_ID": "{DNS_CLOUDFLARE_ACCOUNT_ID}",
        "DNS_OWN_NAMESERVERS": "{DNS_OWN_NAMESERVERS}",
    },
    "notify": {
        "NOTIFY_SMTP_HOST": "{NOTIFY_SMTP_HOST}",
        "NOTIFY_SMTP_PORT": "{NOTIFY_SMTP_PORT}",
        "NOTIFY_SMTP_STARTTLS": "true",
        "NOTIFY_SMTP_USERNAME": "{NOTIFY_SMTP_USERNAME}",
        "NOTIFY_SMTP_PASSWORD": "{NOTIFY_SMTP_PASSWORD}",
        "NOTIFY_MAIL_FROM": "{NOTIFY_MAIL_FROM}",
        "NOTIFY_APP_URL": "https://{HOSPEDA_DOMAIN}",
        "NOTIFY_VAPID_PRIVATE_KEY": "{NOTIFY_VAPID_PRIVATE_KEY}",
        "NOTIFY_VAPID_SUBJECT": "https://{HOSPEDA_DOMAIN}",  # who push services may contact
        "NOTIFY_UNSUBSCRIBE_SECRET": "{NOTIFY_UNSUBSCRIBE_SECRET}",
    },
    "audit": {
        "AUDIT_SIGNING_KEY": "{AUDIT_SIGNING_KEY}",
        "AUDIT_VERIFY_KEYS": "{AUDIT_VERIFY_KEYS}",
        "AUDIT_DATA_KEY": "{AUDIT_DATA_KEY}",
    },
}

PENDING_SETTINGS: dict[str, str] = {}
"""Variables the deploy passes before the service reads them."""


def environment(service: str, *, migration: bool = False) -> dict[str, Value]:
    """Every variable ``service`` is started with; ``migration``: for its
    migration job (audit migrates as the schema's owner)."""
    env = {**_shared(service), **OWN[service]}
    if migration:
        env.pop("HOSPEDA_HEARTBEAT_FILE", None)
        if service == "audit":
            env["DATABASE_URL"] = database_url(service, owner=True)
    return env


def render(value: Value, target: Target) -> str | KafkaPassword:
    return value.on(target) if isinstance(value, Per) else value


def command(service: str, *, migration: bool = False) -> list[str]:
    return ["python", "-m", f"hospeda.{service}", *(["migrate"] if migration else [])]


def probe(service: str) -> tuple[Literal["http", "exec"], list[str] | tuple[int, str]]:
    """How a container of ``service`` shows it is alive."""
    if service == "gateway":
        return "http", (GATEWAY_PORT, "/healthz")
    if service == "billing":
        return "http", (WEBHOOK_PORT, "/healthz")
    return "exec", ["python", "-m", "hospeda.runtime.heartbeat", HEARTBEAT_FILE]


__all__ = ["SERVICES", "KafkaPassword", "Per", "Value", "environment", "render"]
