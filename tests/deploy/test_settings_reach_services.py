"""What production needs reaches every service, on both stacks: each
service's settings class, built from exactly what compose.yaml and the
Kubernetes manifests hand its container (with the env template filled in),
must be accepted by the production guard — a setting production requires
that the template or a manifest forgets fails here — and every variable handed
to a container must be a setting that container reads (no typo is silent)."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from hospeda.audit.config import AuditSettings
from hospeda.billing.config import BillingSettings
from hospeda.devstack.deploy import env as template
from hospeda.devstack.deploy.k8s import HELPER_PREFIX
from hospeda.devstack.deploy.kafka import SERVICES
from hospeda.devstack.deploy.services import KAFKA_CA_FILE, PENDING_SETTINGS
from hospeda.dns.config import DnsSettings
from hospeda.gateway.config import GatewaySettings
from hospeda.notify.config import NotifySettings
from hospeda.provisioning.config import ProvisioningSettings
from hospeda.runtime.settings import ServiceSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SETTINGS: dict[str, type[ServiceSettings]] = {
    "billing": BillingSettings,
    "provisioning": ProvisioningSettings,
    "dns": DnsSettings,
    "notify": NotifySettings,
    "audit": AuditSettings,
    "gateway": GatewaySettings,
}
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Z0-9_]+)(?::([?-])([^}]*))?\}")
K8S_REFERENCE = re.compile(r"\$\(([A-Za-z0-9_]+)\)")


def setting_names(cls: type[ServiceSettings]) -> set[str]:
    """The environment variables ``cls`` reads."""
    prefix = cls.model_config.get("env_prefix", "")
    return {
        field.validation_alias if isinstance(field.validation_alias, str) else prefix + name.upper()
        for name, field in cls.model_fields.items()
    }


EVERY_SETTING = set().union(*(setting_names(c) for c in SETTINGS.values()))


@pytest.fixture(scope="module")
def operator_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The template as an operator fills it: fresh secrets, the examples for
    what providers issue."""
    path = tmp_path_factory.mktemp("operator") / ".env"
    path.write_text(template.filled(examples=True))
    return template.read(path)


def resolve_compose(environment: dict[str, str], operator: dict[str, str]) -> dict[str, str]:
    def one(match: re.Match[str]) -> str:
        name, mode, text = match.groups()
        value = operator.get(name, "")
        if mode == "?" and not value:
            raise AssertionError(f"compose stops: {text}")
        return value

    return {k: COMPOSE_VARIABLE.sub(one, str(v)) for k, v in environment.items()}


def resolve_k8s(entries: list[dict[str, Any]], operator: dict[str, str]) -> dict[str, str]:
    resolved: dict[str, str] = {}
    for entry in entries:
        if "value" in entry:
            resolved[entry["name"]] = K8S_REFERENCE.sub(
                lambda m: resolved[m.group(1)], entry["value"]
            )
            continue
        ref = entry["valueFrom"]["secretKeyRef"]
        if ref["name"] == "hospeda-env":
            if ref["key"] not in operator:
                assert ref.get("optional"), f"{entry['name']}: hospeda-env has no {ref['key']}"
                continue
            resolved[entry["name"]] = operator[ref["key"]]
        else:  # a KafkaUser's Secret, written by Strimzi's user operator
            assert ref["key"] == "password"
            resolved[entry["name"]] = secrets.token_urlsafe(24)
    return resolved


def compose_containers() -> Iterator[tuple[str, str, dict[str, str]]]:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    for name in SERVICES:
        for container in (name, f"{name}-migrate"):
            yield name, container, services[container]["environment"]


def k8s_containers() -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    for path in ("k8s/apps/apps.yaml", "k8s/migrate/jobs.yaml"):
        for document in yaml.safe_load_all((DEPLOY / path).read_text()):
            if document["kind"] not in ("Deployment", "Job"):
                continue
            pod = document["spec"]["template"]["spec"]
            for container in pod.get("initContainers", []) + pod["containers"]:
                service = container["name"].removesuffix("-migrate")
                if service in SETTINGS:
                    yield service, container["name"], container["env"]


def build(
    service: str, environment: dict[str, str], ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> ServiceSettings:
    """The service's settings from exactly ``environment`` (the test's own
    environment out of the way)."""
    for name in list(os.environ):
        if name in EVERY_SETTING or name.startswith(("HOSPEDA_", "KAFKA_")):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, str(ca_file) if value == KAFKA_CA_FILE else value)
    return SETTINGS[service]()


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.crt"
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return path


def unknown_names(service: str, environment: dict[str, str]) -> set[str]:
    return {
        name
        for name in environment
        if name not in setting_names(SETTINGS[service])
        and name not in PENDING_SETTINGS
        and not name.startswith(HELPER_PREFIX)
    }


@pytest.mark.parametrize(
    ("service", "container", "environment"),
    list(compose_containers()),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_compose_gives_each_service_what_production_requires(
    service: str,
    container: str,
    environment: dict[str, str],
    operator_env: dict[str, str],
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolved = resolve_compose(environment, operator_env)
    assert unknown_names(service, resolved) == set()
    settings = build(service, resolved, ca_file, monkeypatch)  # raises when production refuses
    assert settings.environment == "production" and settings.kafka_uses_sasl


@pytest.mark.parametrize(
    ("service", "container", "env"),
    list(k8s_containers()),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_kubernetes_gives_each_service_what_production_requires(
    service: str,
    container: str,
    env: list[dict[str, Any]],
    operator_env: dict[str, str],
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolved = resolve_k8s(env, operator_env)
    assert unknown_names(service, resolved) == set()
    settings = build(service, resolved, ca_file, monkeypatch)
    assert settings.environment == "production" and settings.kafka_uses_sasl


def test_a_forgotten_secret_stops_the_service(
    operator_env: dict[str, str], ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = next(env for s, c, env in k8s_containers() if c == "gateway")
    without_key = [e for e in gateway if e["name"] != "GATEWAY_TOTP_KEY"]
    with pytest.raises(ValidationError, match="GATEWAY_TOTP_KEY must be a long random secret"):
        build("gateway", resolve_k8s(without_key, operator_env), ca_file, monkeypatch)
    compose_env = next(env for s, c, env in compose_containers() if c == "notify")
    with pytest.raises(AssertionError, match=r"set NOTIFY_SMTP_PASSWORD in deploy/\.env"):
        resolve_compose(compose_env, {**operator_env, "NOTIFY_SMTP_PASSWORD": ""})


def test_a_misspelt_setting_is_caught() -> None:
    assert unknown_names("dns", {"DNS_CLOUDFLARE_TOKEN": "x"}) == {"DNS_CLOUDFLARE_TOKEN"}


def test_the_audit_service_runs_as_the_writer_and_migrates_as_the_owner(
    operator_env: dict[str, str],
) -> None:
    environments = {c: resolve_compose(env, operator_env) for s, c, env in compose_containers()}
    assert environments["audit"]["DATABASE_URL"].startswith("postgresql://hospeda_audit:")
    assert environments["audit-migrate"]["DATABASE_URL"].startswith(
        "postgresql://hospeda_audit_owner:"
    )


def test_every_template_variable_is_used_and_every_used_one_is_in_the_template() -> None:
    names = set(template.read(DEPLOY / "env.template"))
    assert names == set(template.VARIABLES)
    used = set(COMPOSE_VARIABLE.findall((DEPLOY / "compose.yaml").read_text()))
    used = {name for name, _, _ in used}
    manifests = "".join(p.read_text() for p in (DEPLOY / "k8s").rglob("*.yaml"))
    used |= set(re.findall(r"key: ([A-Z][A-Z0-9_]+)", manifests))
    used -= {"HOSPEDA_VERSION"}  # the image tag, optional
    assert used == names


def test_optional_values_left_empty_mean_off(
    operator_env: dict[str, str], ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    optional = {n for n, v in template.VARIABLES.items() if not v.required}
    blank = {k: ("" if k in optional else v) for k, v in operator_env.items()}
    environments = {c: resolve_compose(env, blank) for s, c, env in compose_containers()}
    billing = build("billing", environments["billing"], ca_file, monkeypatch)
    assert billing.stripe_secret_key is None and billing.pix_key is None  # card and Pix off
    dns = build("dns", environments["dns"], ca_file, monkeypatch)
    assert dns.own_nameservers == []  # Cloudflare's own, per zone
