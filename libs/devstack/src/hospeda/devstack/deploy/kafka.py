"""Kafka as production runs it, derived from the contracts' topic registry:
every topic with its partitions, replicas and dead-letter topic, and one
principal per service whose ACLs allow only what that service does.

Reads are what each service's router and consumers subscribe to (a test holds
them to the code); writes are what each service emits. The runtime adds the
same to every service: its job topic, the dead letters of what it reads,
alerts, command rejections, and answers on the gateway's reply topics.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from hospeda.contracts.topics import QUERY_TOPICS, TOPICS
from hospeda.runtime.settings import ServiceSettings

PARTITIONS: int = ServiceSettings.model_fields["topic_partitions"].default
"""Partitions of every topic: the runtime's own default, so a local run and
production agree on how far one consumer group can scale out."""
REPLICAS = 3
MIN_IN_SYNC = 2
DLQ_RETENTION_MS = 30 * 24 * 3600 * 1000
"""Dead letters wait 30 days for an operator (regular topics keep the broker's 7)."""

REPLY_PREFIX = "gateway.replies."
"""Each gateway (and operator CLI) instance creates its own reply topic under it."""

SERVICES = ("billing", "provisioning", "dns", "notify", "audit", "gateway")

COMMANDS = tuple(t.name for t in TOPICS if t.name.endswith(".commands.v1"))

CONSUMES: dict[str, tuple[str, ...]] = {
    "billing": ("billing.commands.v1", "provisioning.service.v1"),
    "provisioning": ("provisioning.commands.v1",),
    "dns": ("dns.commands.v1", "provisioning.service.v1"),
    "notify": (
        "identity.company.v1",
        "identity.user.v1",
        "notify.commands.v1",
        "ops.alert.v1",
        "provisioning.service.v1",
    ),
    # every topic but the queries and its own log (audit/handlers.py)
    "audit": tuple(
        t.name
        for t in TOPICS
        if t.name not in {q.name for q in QUERY_TOPICS.values()} and t.name != "audit.log.v1"
    ),
    # the live events the web app shows (gateway/events.py)
    "gateway": (
        "billing.invoice.v1",
        "billing.order.v1",
        "billing.payment.v1",
        "billing.subscription.v1",
        "dns.job.v1",
        "dns.zone.v1",
        "identity.user.v1",
        "notify.inbox.v1",
        "ops.command.v1",
        "provisioning.job.v1",
        "provisioning.service.v1",
    ),
}
"""Topics each service's consumers subscribe to (besides its queries topic)."""

EMITS: dict[str, tuple[str, ...]] = {
    "billing": (
        "billing.catalog.v1",
        "billing.order.v1",
        "billing.invoice.v1",
        "billing.payment.v1",
        "billing.subscription.v1",
        "provisioning.commands.v1",
        "notify.commands.v1",
    ),
    "provisioning": (
        "provisioning.service.v1",
        "dns.commands.v1",
        "notify.commands.v1",
        "audit.records.v1",
    ),
    "dns": ("dns.zone.v1", "notify.commands.v1"),
    "notify": (
        "notify.notification.v1",
        "notify.inbox.v1",
        "notify.person.v1",
        "notify.delivery.v1",
        "ops.probe.v1",
    ),
    "audit": ("audit.log.v1",),  # signed checkpoints and erasures
    # the only writer of commands with a person as actor, and of identity events
    "gateway": (
        "identity.company.v1",
        "identity.user.v1",
        *COMMANDS,
        *(q.name for q in QUERY_TOPICS.values()),
        "audit.records.v1",
    ),
}
"""Topics each service writes to, beyond what the runtime writes for all."""

Operation = Literal["Read", "Write", "Describe", "Create", "DescribeConfigs"]


@dataclass(frozen=True, order=True)
class Acl:
    """Allow ``operations`` on one resource (Strimzi's ``simple`` authorization)."""

    resource: Literal["topic", "group", "cluster"]
    name: str
    pattern: Literal["literal", "prefix"] = "literal"
    operations: tuple[Operation, ...] = ()


@dataclass(frozen=True)
class Principal:
    """A Kafka user (SCRAM-SHA-512) and what it may do."""

    name: str
    description: str
    acls: tuple[Acl, ...] = field(default=())


def topic_configs(topic: str) -> dict[str, str]:
    config = {"min.insync.replicas": str(MIN_IN_SYNC)}
    if topic.endswith(".dlq"):
        config["retention.ms"] = str(DLQ_RETENTION_MS)
    return config


def all_topics() -> list[str]:
    """Every topic production needs: the registry's and their dead-letter topics."""
    return [t.name for t in TOPICS] + [t.dlq for t in TOPICS]


def principal_name(service: str) -> str:
    return f"hospeda-{service}"


def _topics(names: Iterable[str], *operations: Operation) -> list[Acl]:
    return [Acl("topic", name, "literal", operations) for name in sorted(set(names))]


def _service_acls(service: str) -> list[Acl]:
    reads = set(CONSUMES[service])
    writes = set(EMITS[service])
    acls: list[Acl] = []
    if service == "gateway":
        # its reply topic (created at start-up), read by a consumer without a group
        acls.append(Acl("topic", REPLY_PREFIX, "prefix", ("Create", "Describe", "Read")))
        acls.append(Acl("group", "gateway.", "prefix", ("Read",)))
        # the staff console lists dead letters (never their payloads); re-driving is the CLI's
        reads |= {t.dlq for t in TOPICS}
    else:
        reads.add(QUERY_TOPICS[service].name)
        writes |= {f"{service}.job.v1", f"{service}.job.v1.dlq"}
        acls.append(Acl("topic", REPLY_PREFIX, "prefix", ("Describe", "Write")))  # answers
        acls.append(Acl("group", service, "prefix", ("Read",)))  # <service>, <service>.queries
        # the runtime's consumers park what cannot be handled, alert, explain refusals
        writes |= {f"{name}.dlq" for name in reads} | {"ops.alert.v1", "ops.command.v1"}
    acls += _topics(reads, "Describe", "Read")
    acls += _topics(writes - reads, "Describe", "Write")
    acls += _topics(reads & writes, "Describe", "Read", "Write")
    return acls


def principals() -> list[Principal]:
    """One principal per service, one for the operators' CLI and one for the
    staff's Kafka UI (read-only)."""
    users = [
        Principal(principal_name(s), f"the {s} service", tuple(_service_acls(s))) for s in SERVICES
    ]
    dead_letters = [t.dlq for t in TOPICS]
    users.append(
        Principal(
            principal_name("ops"),
            "operators: `python -m hospeda.runtime.ops` (job retry/cancel, dead-letter replay)",
            (
                Acl("topic", REPLY_PREFIX + "ops-", "prefix", ("Create", "Describe", "Read")),
                Acl("group", "hospeda.ops.", "prefix", ("Read",)),
                *_topics(dead_letters, "Describe", "Read"),
                *_topics(
                    [t.name for t in TOPICS] + [q.name for q in QUERY_TOPICS.values()],
                    "Describe",
                    "Write",
                ),
            ),
        )
    )
    users.append(
        Principal(
            principal_name("kafka-ui"),
            "the staff's Kafka UI: reads every topic, changes nothing",
            (
                Acl("topic", "*", "literal", ("Describe", "DescribeConfigs", "Read")),
                Acl("group", "*", "literal", ("Describe",)),
                Acl("cluster", "kafka-cluster", "literal", ("Describe", "DescribeConfigs")),
            ),
        )
    )
    return users


# --- Strimzi --------------------------------------------------------------------------------

CLUSTER = "hospeda"
LABELS = {"strimzi.io/cluster": CLUSTER, "app.kubernetes.io/part-of": "hospeda"}


def _describe(name: str) -> str:
    topic = next(t for t in TOPICS if name in (t.name, t.dlq))
    if name == topic.dlq:
        return f"Dead letters of {topic.name}."
    return f"{topic.description} Key: {topic.key}."


def kafka_topics() -> list[dict[str, Any]]:
    """A KafkaTopic for every topic of the registry and its dead letters."""
    return [
        {
            "apiVersion": "kafka.strimzi.io/v1beta2",
            "kind": "KafkaTopic",
            "metadata": {
                "name": name,
                "labels": LABELS,
                "annotations": {"hospeda.io/description": _describe(name)},
            },
            "spec": {
                "topicName": name,
                "partitions": PARTITIONS,
                "replicas": REPLICAS,
                "config": topic_configs(name),
            },
        }
        for name in all_topics()
    ]


def _strimzi_acl(acl: Acl) -> dict[str, Any]:
    resource: dict[str, Any] = {"type": acl.resource}
    if acl.resource != "cluster":
        resource |= {"name": acl.name, "patternType": acl.pattern}
    return {"resource": resource, "operations": list(acl.operations), "host": "*"}


def kafka_users() -> list[dict[str, Any]]:
    """A KafkaUser (SCRAM-SHA-512) per principal; the user operator writes each
    one's password into a Secret of the same name."""
    return [
        {
            "apiVersion": "kafka.strimzi.io/v1beta2",
            "kind": "KafkaUser",
            "metadata": {
                "name": user.name,
                "labels": LABELS,
                "annotations": {"hospeda.io/description": user.description},
            },
            "spec": {
                "authentication": {"type": "scram-sha-512"},
                "authorization": {"type": "simple", "acls": [_strimzi_acl(a) for a in user.acls]},
            },
        }
        for user in principals()
    ]


# --- compose: the same with Kafka's own tools -------------------------------------------------


def password_variable(principal: Principal) -> str:
    return "KAFKA_PASSWORD_" + principal.name.removeprefix("hospeda-").upper().replace("-", "_")


def init_script() -> str:
    """deploy/compose/kafka/init.sh: users, topics and ACLs (idempotent)."""
    lines = [
        "#!/usr/bin/env bash",
        "# Kafka users, topics and ACLs for the compose stack: run by its kafka-init job.",
        "# Generated by `make deploy` from hospeda.devstack.deploy.kafka — do not edit.",
        "set -euo pipefail",
        "bin=/opt/kafka/bin",
        "config=/tmp/admin.properties",
        'cat > "$config" <<EOF',
        "security.protocol=SASL_SSL",
        "sasl.mechanism=SCRAM-SHA-512",
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="hospeda-admin" password="${KAFKA_ADMIN_PASSWORD}";',
        "ssl.truststore.type=PEM",
        "ssl.truststore.location=/etc/hospeda/certs/ca.crt",
        "EOF",
        'kafka=(--bootstrap-server kafka-1:9093,kafka-2:9093,kafka-3:9093 --command-config "$config")',
        "",
        "# one SCRAM-SHA-512 principal per service (re-running sets the current password)",
    ]
    for user in principals():
        lines.append(
            f'"$bin/kafka-configs.sh" "${{kafka[@]}}" --alter --entity-type users '
            f"--entity-name {user.name} --add-config "
            f'"SCRAM-SHA-512=[iterations=8192,password=${{{password_variable(user)}}}]"'
        )
    lines += [
        "",
        f"# every topic of the contracts' registry and its dead letters ({PARTITIONS} partitions)",
    ]
    for name in all_topics():
        configs = " ".join(f"--config {k}={v}" for k, v in topic_configs(name).items())
        lines.append(
            f'"$bin/kafka-topics.sh" "${{kafka[@]}}" --create '
            f"--if-not-exists --topic {name} --partitions {PARTITIONS} "
            f"--replication-factor {REPLICAS} {configs}"
        )
    lines += ["", "# what each principal may do"]
    for user in principals():
        for acl in user.acls:
            if acl.resource == "cluster":
                target = "--cluster"
            else:
                name = acl.name if acl.name != "*" else "'*'"
                target = f"--{acl.resource} {name}"
                if acl.pattern == "prefix":
                    target += " --resource-pattern-type prefixed"
            operations = " ".join(f"--operation {op}" for op in acl.operations)
            lines.append(
                f'"$bin/kafka-acls.sh" "${{kafka[@]}}" --add --allow-principal User:{user.name} '
                f"{operations} {target}"
            )
    lines.append('echo "kafka-init: users, topics and ACLs are in place"')
    return "\n".join(lines) + "\n"


def acl_table() -> str:
    """deploy/kafka-acls.md: what each principal may do, for operators and reviewers."""
    lines = [
        "# Kafka principals and what they may do",
        "",
        "Generated by `make deploy` from `hospeda.devstack.deploy.kafka` (do not edit). The same",
        "ACLs are applied by compose's kafka-init job and by Strimzi's KafkaUser resources.",
        "Anything not listed is denied.",
    ]
    for user in principals():
        lines += [
            "",
            f"## `{user.name}` — {user.description}",
            "",
            "| resource | name | operations |",
            "| --- | --- | --- |",
        ]
        for acl in user.acls:
            name = (
                ""
                if acl.resource == "cluster"
                else f"`{acl.name}`" + (" (prefix)" if acl.pattern == "prefix" else "")
            )
            lines.append(f"| {acl.resource} | {name} | {', '.join(acl.operations)} |")
    return "\n".join(lines) + "\n"
