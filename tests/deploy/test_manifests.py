"""deploy/ checked offline: the committed files are what the code generates,
compose follows the Compose specification, every Kubernetes object its API
schema (Strimzi's resources: deploy/schemas/strimzi), and the shapes an
operator relies on (health checks, probes, non-root, budgets, migrations)."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import check_jsonschema
import jsonschema
import kubernetes_validate
import pytest
import yaml

from hospeda.contracts.topics import TOPICS
from hospeda.devstack import deploy
from hospeda.devstack.deploy import kafka
from hospeda.devstack.deploy.kafka import SERVICES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUBERNETES_VERSION = "1.31.0"
ONE_SHOT = {f"{s}-migrate" for s in SERVICES} | {"kafka-init", "audit-grants"}


@functools.cache
def _k8s_documents() -> tuple[tuple[str, dict[str, Any]], ...]:
    found = []
    for path in sorted((DEPLOY / "k8s").rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            where = f"{path.relative_to(DEPLOY)}:{document['kind']}/{document['metadata']['name']}"
            found.append((where, document))
    return tuple(found)


def k8s_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object under deploy/k8s (copies: a test may spoil one)."""
    for where, document in _k8s_documents():
        yield where, copy.deepcopy(document)


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_the_committed_deploy_is_what_the_code_generates() -> None:
    assert deploy.stale(DEPLOY) == [], "run `make deploy` and commit the result"


def test_compose_follows_the_compose_specification() -> None:
    schema_file = (
        Path(check_jsonschema.__file__).parent / "builtin_schemas/vendor/compose-spec.json"
    )
    schema = json.loads(schema_file.read_text())
    jsonschema.validate(compose(), schema, cls=jsonschema.Draft7Validator)


def test_a_misspelt_compose_key_is_caught() -> None:
    schema_file = (
        Path(check_jsonschema.__file__).parent / "builtin_schemas/vendor/compose-spec.json"
    )
    broken = compose()
    broken["services"]["gateway"]["restart_policy"] = "always"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json.loads(schema_file.read_text()))


def _strimzi_schema(kind: str) -> dict[str, Any]:
    return json.loads((DEPLOY / "schemas/strimzi" / f"{kind.lower()}.json").read_text())


def validate_k8s(document: dict[str, Any]) -> None:
    if document["apiVersion"].startswith("kafka.strimzi.io/"):
        jsonschema.validate(
            document, _strimzi_schema(document["kind"]), cls=jsonschema.Draft202012Validator
        )
    else:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize(
    ("where", "document"), list(k8s_documents()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_kubernetes_object_matches_its_schema(where: str, document: dict[str, Any]) -> None:
    validate_k8s(document)


@pytest.mark.parametrize(
    ("kind", "spoil"),
    [
        (
            "Deployment",
            lambda d: d["spec"]["template"]["spec"]["containers"][0].update(
                imagePullPolice="Always"
            ),
        ),
        ("KafkaUser", lambda d: d["spec"]["authorization"]["acls"][0].update(operations=["Reed"])),
        ("KafkaTopic", lambda d: d["spec"].update(partitions="6")),
        ("KafkaNodePool", lambda d: d["spec"].update(roles=["zookeeper"])),
        ("Kafka", lambda d: d["spec"]["kafka"].update(listener=[])),
    ],
)
def test_the_schemas_refuse_what_kubernetes_or_strimzi_would(kind: str, spoil: Any) -> None:
    document = next(d for _, d in k8s_documents() if d["kind"] == kind)
    spoil(document)
    with pytest.raises((jsonschema.ValidationError, kubernetes_validate.ValidationError)):
        validate_k8s(document)


def test_every_kustomization_lists_files_that_exist() -> None:
    for path in (DEPLOY / "k8s").rglob("kustomization.yaml"):
        kustomization = yaml.safe_load(path.read_text())
        for resource in kustomization["resources"]:
            assert (path.parent / resource).is_file(), f"{path}: {resource}"
        for generator in kustomization.get("configMapGenerator", []):
            assert all((path.parent / f).is_file() for f in generator["files"])


def test_the_kafka_topics_are_the_registry_with_partitions_and_dead_letters() -> None:
    topics = {
        d["spec"]["topicName"]: d["spec"] for _, d in k8s_documents() if d["kind"] == "KafkaTopic"
    }
    expected = {t.name for t in TOPICS} | {t.dlq for t in TOPICS}
    assert set(topics) == expected
    assert {(s["partitions"], s["replicas"]) for s in topics.values()} == {(6, 3)}
    assert all(s["config"]["min.insync.replicas"] == "2" for s in topics.values())
    script = (DEPLOY / "compose/kafka/init.sh").read_text()
    for name in expected:
        assert f"--topic {name} --partitions 6 --replication-factor 3" in script


def test_the_compose_brokers_replicate_and_never_create_topics_on_their_own() -> None:
    properties = (DEPLOY / "compose/kafka/server.properties").read_text().splitlines()
    assert "auto.create.topics.enable=false" in properties
    assert "min.insync.replicas=2" in properties
    assert "allow.everyone.if.no.acl.found=false" in properties
    assert (
        "listener.security.protocol.map=BROKER:SASL_SSL,CLIENT:SASL_SSL,CONTROLLER:SSL"
        in properties
    )
    assert [n for n in compose()["services"] if n.startswith("kafka-") and n[-1].isdigit()] == [
        "kafka-1",
        "kafka-2",
        "kafka-3",
    ]


def test_every_compose_service_restarts_and_reports_its_health() -> None:
    for name, service in compose()["services"].items():
        if name in ONE_SHOT:
            assert service["restart"] == "no", name
            continue
        assert service["restart"] == "unless-stopped", name
        if name not in ("otel-collector", "jaeger", "kafka-ui"):  # distroless images: no shell
            assert "healthcheck" in service, name


def test_each_service_waits_for_its_migration_and_the_topics() -> None:
    services = compose()["services"]
    for name in SERVICES:
        depends = services[name]["depends_on"]
        assert depends[f"{name}-migrate"]["condition"] == "service_completed_successfully"
        assert depends["kafka-init"]["condition"] == "service_completed_successfully"
        assert services[f"{name}-migrate"]["command"][-1] == "migrate"
    assert (
        services["audit"]["depends_on"]["audit-grants"]["condition"]
        == "service_completed_successfully"
    )


def test_only_the_proxy_faces_the_internet_and_staff_tools_stay_on_loopback() -> None:
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            if name == "proxy":
                assert port.split(":")[0] in ("80", "443")
            else:
                assert port.startswith("127.0.0.1:"), f"{name} publishes {port}"


def test_the_webhooks_reach_billing_through_the_tls_proxy_and_the_ingress() -> None:
    caddyfile = (DEPLOY / "compose/Caddyfile").read_text()
    for hook in ("/webhooks/stripe", "/webhooks/pix/pix"):  # the PSP posts to <webhookUrl>/pix
        assert f"handle {hook} {{\n\t\treverse_proxy billing:8010" in caddyfile
    ingress = next(d for _, d in k8s_documents() if d["kind"] == "Ingress")
    paths = {
        p["path"]: p["backend"]["service"] for p in ingress["spec"]["rules"][0]["http"]["paths"]
    }
    assert paths["/webhooks/stripe"] == {"name": "billing-webhooks", "port": {"number": 8010}}
    assert paths["/webhooks/pix/pix"] == paths["/webhooks/stripe"]
    assert paths["/"] == {"name": "gateway", "port": {"number": 8000}}
    assert ingress["spec"]["tls"]


def test_every_deployment_is_probed_bounded_and_unprivileged() -> None:
    documents = [d for _, d in k8s_documents()]
    budgets = {d["metadata"]["name"] for d in documents if d["kind"] == "PodDisruptionBudget"}
    deployments = [d for d in documents if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == set(SERVICES)
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
            assert container["livenessProbe"] and container["readinessProbe"]
            assert container["resources"]["limits"]["memory"]
        if deployment["spec"]["replicas"] > 1:
            assert name in budgets, f"{name} has replicas but no PodDisruptionBudget"
    assert {d["metadata"]["name"] for d in deployments if d["spec"]["replicas"] > 1} >= {
        "gateway",
        "billing",
        "provisioning",
        "dns",
        "notify",
    }


def test_a_migration_job_per_service() -> None:
    jobs = {d["metadata"]["name"]: d for _, d in k8s_documents() if d["kind"] == "Job"}
    assert set(jobs) == {f"{s}-migrate" for s in SERVICES}
    audit = jobs["audit-migrate"]["spec"]["template"]["spec"]
    assert audit["initContainers"][0]["command"][-1] == "migrate"  # then the grants
    assert audit["containers"][0]["command"][-1] == "/grants/audit-grants.sql"


def test_every_principal_is_a_kafka_user_with_its_acls() -> None:
    users = {d["metadata"]["name"]: d for _, d in k8s_documents() if d["kind"] == "KafkaUser"}
    assert set(users) == {p.name for p in kafka.principals()}
    assert all(u["spec"]["authentication"]["type"] == "scram-sha-512" for u in users.values())
