"""deploy/k8s/: three Kustomize directories, applied in order.

- platform/: the namespace, the operator's env file as the `hospeda-env`
  Secret, and Kafka (Strimzi: a KRaft cluster, every topic, every principal).
- migrate/: one Job per service that brings its schema up to date.
- apps/: the services (Deployments, Services, PodDisruptionBudgets) and the
  Ingress that terminates TLS for the web app and the Stripe webhooks.
"""

from __future__ import annotations

import re
from typing import Any

from hospeda.devstack.deploy import postgres
from hospeda.devstack.deploy import services as svc
from hospeda.devstack.deploy.env import VARIABLES
from hospeda.devstack.deploy.kafka import (
    CLUSTER,
    LABELS,
    MIN_IN_SYNC,
    REPLICAS,
    SERVICES,
    principal_name,
)

NAMESPACE = "hospeda"
IMAGE = "hospeda"  # kustomize `images:` sets the registry and tag
ENV_SECRET = "hospeda-env"  # noqa: S105 - a Secret's name
HELPER_PREFIX = "DEPLOY_"
"""Variables only there for `$(…)` expansion inside another one."""
PLACEHOLDER = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")
KAFKA_VERSION = "3.9.0"


def _labels(service: str, component: str = "service") -> dict[str, str]:
    return {
        "app.kubernetes.io/name": service,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "hospeda",
    }


def _from_env_secret(name: str, variable: str) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": ENV_SECRET, "key": variable}
    if not VARIABLES[variable].required:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def container_env(service: str, *, migration: bool = False) -> list[dict[str, Any]]:
    """Literal values, Secret references, and `$(…)` compositions of both."""
    helpers: dict[str, dict[str, Any]] = {}
    env: list[dict[str, Any]] = []
    for name, value in svc.environment(service, migration=migration).items():
        rendered = svc.render(value, "k8s")
        if isinstance(rendered, svc.KafkaPassword):
            secret = {"name": principal_name(rendered.service), "key": "password"}
            env.append({"name": name, "valueFrom": {"secretKeyRef": secret}})
            continue
        whole = PLACEHOLDER.fullmatch(rendered)
        if whole:
            env.append(_from_env_secret(name, whole.group(1)))
            continue
        for variable in PLACEHOLDER.findall(rendered):
            helpers.setdefault(variable, _from_env_secret(HELPER_PREFIX + variable, variable))
        env.append({"name": name, "value": PLACEHOLDER.sub(rf"$({HELPER_PREFIX}\1)", rendered)})
    return [*helpers.values(), *env]  # `$(X)` only sees variables defined before it


SECURITY = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
VOLUMES = [
    {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
    {
        "name": "kafka-ca",
        "secret": {
            "secretName": f"{CLUSTER}-cluster-ca-cert",  # written by Strimzi
            "items": [{"key": "ca.crt", "path": "ca.crt"}],
        },
    },
]
MOUNTS = [
    {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - the heartbeat file
    {"name": "kafka-ca", "mountPath": "/etc/hospeda/kafka-ca", "readOnly": True},
]


def _probe(service: str, *, initial: int) -> dict[str, Any]:
    kind, how = svc.probe(service)
    action: dict[str, Any]
    if kind == "http":
        port, path = how
        action = {"httpGet": {"path": path, "port": port}}
    else:
        action = {"exec": {"command": list(how)}}
    return {**action, "initialDelaySeconds": initial, "periodSeconds": 15, "timeoutSeconds": 5}


def _ports(service: str) -> list[dict[str, Any]]:
    ports = [{"name": "metrics", "containerPort": svc.METRICS_PORT}]
    if service == "gateway":
        ports.append({"name": "http", "containerPort": svc.GATEWAY_PORT})
    if service == "billing":
        ports.append({"name": "webhooks", "containerPort": svc.WEBHOOK_PORT})
    return ports


def _container(service: str, *, migration: bool = False) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": f"{service}-migrate" if migration else service,
        "image": IMAGE,
        "command": svc.command(service, migration=migration),
        "env": container_env(service, migration=migration),
        "securityContext": SECURITY,
        "volumeMounts": MOUNTS,
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"memory": "1Gi" if service == "gateway" else "512Mi"},
        },
    }
    if not migration:
        container |= {
            "ports": _ports(service),
            "readinessProbe": _probe(service, initial=10),
            "livenessProbe": _probe(service, initial=60),
        }
    return container


def deployment(service: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": service, "labels": _labels(service)},
        "spec": {
            "replicas": svc.REPLICAS[service],
            "selector": {"matchLabels": {"app.kubernetes.io/name": service}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
            "template": {
                "metadata": {
                    "labels": _labels(service),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(svc.METRICS_PORT),
                    },
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": POD_SECURITY,
                    "terminationGracePeriodSeconds": 30,
                    "containers": [_container(service)],
                    "volumes": VOLUMES,
                },
            },
        },
    }


def disruption_budget(service: str) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": service, "labels": _labels(service)},
        "spec": {
            "minAvailable": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": service}},
        },
    }


def _service(name: str, target: str, port: int, port_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": _labels(target)},
        "spec": {
            "selector": {"app.kubernetes.io/name": target},
            "ports": [{"name": port_name, "port": port, "targetPort": port_name}],
        },
    }


def ingress() -> dict[str, Any]:
    def path(prefix: str, service: str, port: int) -> dict[str, Any]:
        return {
            "path": prefix,
            "pathType": "Prefix",
            "backend": {"service": {"name": service, "port": {"number": port}}},
        }

    host = "painel.exemplo.com.br"  # your HOSPEDA_DOMAIN: see deploy/README.md
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "hospeda",
            "labels": {"app.kubernetes.io/part-of": "hospeda"},
            "annotations": {
                "cert-manager.io/cluster-issuer": "letsencrypt",
                "nginx.ingress.kubernetes.io/proxy-body-size": "1m",
            },
        },
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": [host], "secretName": "hospeda-tls"}],
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            path("/webhooks/stripe", "billing-webhooks", svc.WEBHOOK_PORT),
                            path("/webhooks/pix/pix", "billing-webhooks", svc.WEBHOOK_PORT),
                            path("/", "gateway", svc.GATEWAY_PORT),
                        ]
                    },
                }
            ],
        },
    }


def migration_job(service: str) -> dict[str, Any]:
    """`python -m hospeda.<service> migrate`; audit then narrows its writer's grants."""
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": POD_SECURITY,
        "restartPolicy": "Never",
        "volumes": VOLUMES,
    }
    migrate = _container(service, migration=True)
    if service == "audit":
        pod["volumes"] = [*VOLUMES, {"name": "grants", "configMap": {"name": "audit-grants"}}]
        pod["initContainers"] = [migrate]
        pod["containers"] = [
            {
                "name": "audit-grants",
                "image": "postgres:16",
                "command": postgres.grants_command("/grants/audit-grants.sql"),
                "env": [_from_env_secret("PGPASSWORD", "POSTGRES_PASSWORD_AUDIT_OWNER")],
                "securityContext": {**SECURITY, "runAsUser": 999, "runAsGroup": 999},
                "volumeMounts": [
                    {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108
                    {"name": "grants", "mountPath": "/grants", "readOnly": True},
                ],
                "resources": {
                    "requests": {"cpu": "50m", "memory": "64Mi"},
                    "limits": {"memory": "128Mi"},
                },
            }
        ]
    else:
        pod["containers"] = [migrate]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"{service}-migrate", "labels": _labels(service, "migration")},
        "spec": {
            "backoffLimit": 3,
            "ttlSecondsAfterFinished": 86400,
            "template": {"metadata": {"labels": _labels(service, "migration")}, "spec": pod},
        },
    }


def kafka_cluster() -> list[dict[str, Any]]:
    """A KRaft cluster of three nodes (controller + broker), SCRAM over TLS,
    ACLs enforced, no topic auto-creation; the topic and user operators."""
    return [
        {
            "apiVersion": "kafka.strimzi.io/v1beta2",
            "kind": "KafkaNodePool",
            "metadata": {"name": "dual-role", "labels": LABELS},
            "spec": {
                "replicas": 3,
                "roles": ["controller", "broker"],
                "storage": {
                    "type": "jbod",
                    "volumes": [
                        {
                            "id": 0,
                            "type": "persistent-claim",
                            "size": "100Gi",
                            "deleteClaim": False,
                            "kraftMetadata": "shared",
                        }
                    ],
                },
                "resources": {
                    "requests": {"cpu": "500m", "memory": "2Gi"},
                    "limits": {"memory": "2Gi"},
                },
            },
        },
        {
            "apiVersion": "kafka.strimzi.io/v1beta2",
            "kind": "Kafka",
            "metadata": {
                "name": CLUSTER,
                "labels": {"app.kubernetes.io/part-of": "hospeda"},
                "annotations": {"strimzi.io/node-pools": "enabled", "strimzi.io/kraft": "enabled"},
            },
            "spec": {
                "kafka": {
                    "version": KAFKA_VERSION,
                    "metadataVersion": "3.9-IV0",
                    "listeners": [
                        {
                            "name": "tls",
                            "port": 9093,
                            "type": "internal",
                            "tls": True,
                            "authentication": {"type": "scram-sha-512"},
                        }
                    ],
                    "authorization": {"type": "simple"},
                    "config": {
                        "auto.create.topics.enable": False,
                        "default.replication.factor": REPLICAS,
                        "min.insync.replicas": MIN_IN_SYNC,
                        "offsets.topic.replication.factor": REPLICAS,
                        "transaction.state.log.replication.factor": REPLICAS,
                        "transaction.state.log.min.isr": MIN_IN_SYNC,
                    },
                },
                "entityOperator": {"topicOperator": {}, "userOperator": {}},
            },
        },
    ]


def apps() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for service in SERVICES:
        documents.append(deployment(service))
        if svc.REPLICAS[service] > 1:
            documents.append(disruption_budget(service))
    documents.append(_service("gateway", "gateway", svc.GATEWAY_PORT, "http"))
    documents.append(_service("billing-webhooks", "billing", svc.WEBHOOK_PORT, "webhooks"))
    documents.append(ingress())
    return documents


def kustomizations() -> dict[str, dict[str, Any]]:
    """The three kustomization.yaml files, by directory."""
    common = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": NAMESPACE,
    }
    image = [{"name": IMAGE, "newName": "registry.exemplo.com.br/hospeda", "newTag": "latest"}]
    return {
        "platform": {
            **common,
            "resources": ["namespace.yaml", "kafka.yaml", "topics.yaml", "users.yaml"],
            # the operator's filled env file (never committed)
            "secretGenerator": [{"name": ENV_SECRET, "envs": ["hospeda.env"]}],
            "generatorOptions": {"disableNameSuffixHash": True},
        },
        "migrate": {
            **common,
            "resources": ["jobs.yaml"],
            "configMapGenerator": [{"name": "audit-grants", "files": ["audit-grants.sql"]}],
            "images": image,
        },
        "apps": {**common, "resources": ["apps.yaml"], "images": image},
    }


def namespace() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": NAMESPACE,
            "labels": {
                # the services meet `restricted`; baseline leaves room for Strimzi's pods
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
                "app.kubernetes.io/part-of": "hospeda",
            },
        },
    }
