"""The operator's variables: what `deploy/env.template` lists, how each secret
is generated, and the filled copy (`deploy/.env`) both stacks read.

Compose interpolates them into compose.yaml; Kubernetes loads the same file
into the `hospeda-env` Secret (kustomize `secretGenerator`). Nothing else is
asked of the operator: every other setting is fixed by the deploy.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from hospeda.devstack.deploy.kafka import SERVICES
from hospeda.notify.vapid import generate_vapid_key


def _password() -> str:
    return secrets.token_urlsafe(32)  # URL-safe: it goes inside DATABASE_URL and REDIS_URL


GENERATORS: dict[str, tuple[str, Callable[[], str]]] = {
    "password": ("43 random URL-safe characters", _password),
    "fernet": ("a Fernet key (32 random bytes, base64)", lambda: Fernet.generate_key().decode()),
    "ed25519": (
        "an Ed25519 signing key (the base64 32-byte seed)",
        lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
    ),
    "vapid": ("a Web Push (VAPID) P-256 private key, base64url", generate_vapid_key),
    "cluster-id": (
        "a Kafka cluster id (16 random bytes, base64url)",
        lambda: base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="),
    ),
}


@dataclass(frozen=True)
class Variable:
    """One line of the env template. ``generate``: the kind of random secret
    (`python -m hospeda.devstack.deploy secret <kind>` makes one); else the
    operator fills it in, following ``help`` (``example`` is a valid shape)."""

    name: str
    help: str
    generate: str | None = None
    example: str = ""
    required: bool = True

    def __post_init__(self) -> None:
        if self.generate is not None and self.generate not in GENERATORS:
            raise ValueError(f"{self.name}: unknown generator {self.generate}")


def _per_service(prefix: str, services: tuple[str, ...], help: str) -> list[Variable]:
    return [Variable(f"{prefix}_{s.upper()}", help.format(s=s), "password") for s in services]


SECTIONS: tuple[tuple[str, tuple[Variable, ...]], ...] = (
    (
        "Where people reach the platform",
        (
            Variable(
                "HOSPEDA_DOMAIN",
                "The public host name of the web app and the Stripe webhooks (DNS A/AAAA record "
                "pointing at this machine or the Ingress).",
                example="painel.exemplo.com.br",
            ),
            Variable(
                "ACME_EMAIL",
                "Compose: where Let's Encrypt sends certificate notices (the TLS proxy gets and "
                "renews the certificate by itself).",
                example="ops@exemplo.com.br",
            ),
            Variable(
                "GATEWAY_TRUSTED_PROXIES",
                "Kubernetes: the CIDR(s) of the Ingress controller's pods, whose X-Forwarded-For "
                "the gateway believes (compose fixes it to its TLS proxy).",
                example="10.244.0.0/16",
                required=False,
            ),
        ),
    ),
    (
        "Kafka (SCRAM-SHA-512 over TLS; compose only: Strimzi makes its own in Kubernetes)",
        (
            Variable("KAFKA_CLUSTER_ID", "Set once, never change.", "cluster-id"),
            Variable(
                "KAFKA_ADMIN_PASSWORD", "The brokers' and the topic job's super user.", "password"
            ),
            *_per_service("KAFKA_PASSWORD", SERVICES, "Principal hospeda-{s}."),
            Variable("KAFKA_PASSWORD_OPS", "Principal hospeda-ops (operator CLI).", "password"),
            Variable(
                "KAFKA_PASSWORD_KAFKA_UI", "Principal hospeda-kafka-ui (read-only).", "password"
            ),
        ),
    ),
    (
        "PostgreSQL: one role per service (audit: an owner that migrates, a writer that appends)",
        (
            Variable("POSTGRES_PASSWORD", "The postgres super user (compose only).", "password"),
            *_per_service("POSTGRES_PASSWORD", SERVICES, "Role hospeda_{s}."),
            Variable(
                "POSTGRES_PASSWORD_AUDIT_OWNER",
                "Role hospeda_audit_owner (migrations).",
                "password",
            ),
        ),
    ),
    (
        "Redis: one ACL user per service that uses it",
        (
            Variable("REDIS_PASSWORD_GATEWAY", "ACL user hospeda-gateway.", "password"),
            Variable("REDIS_PASSWORD_DNS", "ACL user hospeda-dns.", "password"),
        ),
    ),
    (
        "Keys that encrypt data at rest (comma-separated to rotate: new key first)",
        (
            Variable("GATEWAY_TOTP_KEY", "Encrypts staff and customers' TOTP secrets.", "fernet"),
            Variable("PROVISIONING_CREDENTIALS_KEY", "Encrypts WHM API tokens.", "fernet"),
            Variable(
                "AUDIT_DATA_KEY",
                "Seals each person's key for their personal data in the audit trail (erasing a "
                "person destroys their key).",
                "fernet",
            ),
        ),
    ),
    (
        "Keys that sign (changing one invalidates what it signed)",
        (
            Variable(
                "AUDIT_SIGNING_KEY",
                "Signs the audit trail's checkpoints. To rotate, put the old key's public half in "
                "AUDIT_VERIFY_KEYS (it is in every checkpoint on the audit.log.v1 topic) so old "
                "checkpoints still verify.",
                "ed25519",
            ),
            Variable(
                "AUDIT_VERIFY_KEYS",
                "Public keys (base64) of retired audit signing keys, comma-separated.",
                required=False,
            ),
            Variable(
                "NOTIFY_VAPID_PRIVATE_KEY",
                "Signs web pushes; browsers subscribed with its public key, so a new key means "
                "every device subscribes again.",
                "vapid",
            ),
            Variable(
                "NOTIFY_UNSUBSCRIBE_SECRET",
                "Signs the one-click unsubscribe links in e-mails (old links stop working when "
                "it changes).",
                "password",
            ),
        ),
    ),
    (
        "Providers (issued by them, not generated)",
        (
            Variable(
                "BILLING_STRIPE_SECRET_KEY",
                "Stripe dashboard → Developers → API keys: the live secret (or restricted) key. "
                "Empty: card and Stripe Pix payments are off.",
                example="sk_live_51Hexample0000000000000000",
                required=False,
            ),
            Variable(
                "BILLING_STRIPE_WEBHOOK_SECRET",
                "Stripe dashboard → Webhooks → endpoint https://$HOSPEDA_DOMAIN/webhooks/stripe → "
                "signing secret.",
                example="whsec_example00000000000000000000",
                required=False,
            ),
            Variable(
                "BILLING_PIX_KEY",
                "The Pix key that receives direct Pix payments (CNPJ, e-mail, phone or random key). "
                "Empty: no direct Pix.",
                example="12345678000199",
                required=False,
            ),
            Variable(
                "BILLING_PIX_PSP_URL",
                "Your PSP's API Pix base address (the Banco Central standard), e.g. "
                "https://pix.example.com/api/v2. Empty: direct Pix codes that staff record.",
                example="https://pix.example-psp.com.br/api/v2",
                required=False,
            ),
            Variable(
                "BILLING_PIX_PSP_CLIENT_ID",
                "The OAuth client id your PSP issued for its API Pix.",
                example="hospeda-producao",
                required=False,
            ),
            Variable(
                "BILLING_PIX_PSP_CLIENT_SECRET",
                "The OAuth client secret your PSP issued for its API Pix.",
                example="psp-example-secret-0000000000",
                required=False,
            ),
            Variable(
                "BILLING_PIX_WEBHOOK_SECRET",
                "The secret your PSP signs its webhook calls with (Pix-Signature); billing "
                "registers https://$HOSPEDA_DOMAIN/webhooks/pix at the PSP when it starts.",
                example="pix-webhook-example-secret-000000",
                required=False,
            ),
            Variable(
                "GATEWAY_PIX_METHOD",
                "What the web app's Pix button uses: pix (your PSP, BILLING_PIX_PSP_URL) or "
                "pix_stripe (Stripe's Pix). Empty: pix_stripe.",
                example="pix",
                required=False,
            ),
            Variable(
                "BILLING_PIX_MERCHANT_NAME", "Shown in the payer's bank app.", example="Hospeda"
            ),
            Variable(
                "BILLING_PIX_MERCHANT_CITY", "Shown in the payer's bank app.", example="Sao Paulo"
            ),
            Variable(
                "DNS_CLOUDFLARE_API_TOKEN",
                "Cloudflare → My Profile → API Tokens: Zone:Edit and DNS:Edit on the account.",
                example="cf-example-token-000000000000000000000000",
            ),
            Variable(
                "DNS_CLOUDFLARE_ACCOUNT_ID",
                "Cloudflare account id.",
                example="0123456789abcdef0123",
            ),
            Variable(
                "DNS_OWN_NAMESERVERS",
                "Nameservers customers must set (empty: the ones Cloudflare assigns each zone).",
                example="ns1.exemplo.com.br,ns2.exemplo.com.br",
                required=False,
            ),
            Variable("NOTIFY_SMTP_HOST", "The SMTP relay.", example="smtp.exemplo.com.br"),
            Variable("NOTIFY_SMTP_PORT", "587 with STARTTLS.", example="587"),
            Variable("NOTIFY_SMTP_USERNAME", "SMTP login.", example="nao-responda@exemplo.com.br"),
            Variable(
                "NOTIFY_SMTP_PASSWORD", "SMTP password.", example="smtp-example-password-0000"
            ),
            Variable(
                "NOTIFY_MAIL_FROM",
                "Sender of every e-mail.",
                example="Hospeda <nao-responda@exemplo.com.br>",
            ),
            Variable(
                "PROVISIONING_WHM_SERVERS",
                "JSON list of WHM servers: name, url (https://…:2087), user, token (WHM → Manage "
                "API Tokens), packages.",
                example='[{"name":"whm1","url":"https://whm1.exemplo.com.br:2087","user":"root",'
                '"token":"whm-example-token-000000000000","packages":["basico"]}]',
            ),
        ),
    ),
    (
        "Staff tools (compose: reachable on 127.0.0.1 only, through an SSH tunnel)",
        (
            Variable("GRAFANA_ADMIN_PASSWORD", "Grafana's admin user.", "password"),
            Variable("KAFKA_UI_PASSWORD", "Kafka UI's admin user.", "password"),
            Variable(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "Kubernetes: your OpenTelemetry collector's OTLP/HTTP address (compose runs its "
                "own). Empty: no traces exported.",
                example="http://otel-collector.observability:4318",
                required=False,
            ),
        ),
    ),
)

VARIABLES: dict[str, Variable] = {v.name: v for _, group in SECTIONS for v in group}

HEADER = """\
# Hospeda — what the operator provides. Copy, fill, keep secret (never commit it):
#   python -m hospeda.devstack.deploy env > deploy/.env   # every generated secret filled in
#   then fill the provider lines; Kubernetes: cp deploy/.env deploy/k8s/platform/hospeda.env
# A new value for one secret (rotation, see deploy/README.md):
#   python -m hospeda.devstack.deploy secret <password|fernet|cluster-id>
# Generated from hospeda.devstack.deploy.env — `make deploy` rewrites this file.
"""


def template() -> str:
    """deploy/env.template."""
    lines = [HEADER]
    for title, group in SECTIONS:
        lines.append(f"\n# --- {title}\n")
        for variable in group:
            how = (
                f"generate: {variable.generate} ({GENERATORS[variable.generate][0]})"
                if variable.generate
                else ("required" if variable.required else "optional")
            )
            lines.append(f"# {variable.help} [{how}]\n")
            example = f"  # e.g. {variable.example}" if variable.example else ""
            lines.append(f"{variable.name}={example}\n")
    return "".join(lines)


def filled(*, provided: dict[str, str] | None = None, examples: bool = False) -> str:
    """The template with every generated secret made fresh, ``provided`` values
    set, and (for tests) the examples standing in for the providers' values."""
    provided = provided or {}
    lines = []
    for title, group in SECTIONS:
        lines.append(f"# --- {title}")
        for variable in group:
            if variable.name in provided:
                value = provided[variable.name]
            elif variable.generate:
                value = GENERATORS[variable.generate][1]()
            else:
                value = variable.example if examples else ""
            if "\n" in value or "$" in value:
                raise ValueError(f"{variable.name}: one line, no '$' (compose would expand it)")
            lines.append(f"{variable.name}={value}")
    return "\n".join(lines) + "\n"


def read(path: Path) -> dict[str, str]:
    """An env file as compose and kustomize read it: KEY=VALUE, unquoted, '#'
    comment lines."""
    values: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.split("  #", 1)[0].strip()
    return values
