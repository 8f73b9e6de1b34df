"""Each service's Kafka principal may read what its consumers subscribe to and
write what it emits — held to the code: the routers as each service builds
them, and the topics its source names — and nothing that belongs to another
service."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest

from hospeda.contracts import topics as registry
from hospeda.devstack.deploy.kafka import CONSUMES, SERVICES, Acl, principal_name, principals

ROOT = Path(__file__).resolve().parents[2]
PRINCIPALS = {p.name: p for p in principals()}
TOPIC_CONSTANTS = {
    name: value.name for name, value in vars(registry).items() if isinstance(value, registry.Topic)
}


def allowed(service: str, operation: str) -> set[str]:
    """Topic names (literal ACLs) ``service``'s principal may ``operation``."""
    acls: tuple[Acl, ...] = PRINCIPALS[principal_name(service)].acls
    return {
        a.name
        for a in acls
        if a.resource == "topic" and a.pattern == "literal" and operation in a.operations
    }


async def router_of(service: str, tmp_path: Path) -> Any:
    config = importlib.import_module(f"hospeda.{service}.config")
    cls = next(
        v
        for v in vars(config).values()
        if isinstance(v, type) and getattr(v, "service_name", "") == service
    )
    settings = cls(
        HOSPEDA_ENV="test",
        HOSPEDA_DATA_DIR=str(tmp_path),
        DATABASE_URL="",
        REDIS_URL="redis://127.0.0.1:1/0",
    )
    runtime = importlib.import_module(f"hospeda.{service}.app").create_runtime(settings)
    try:
        return runtime.router
    finally:
        await runtime.db.dispose()
        await runtime.producer.stop()


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "gateway"])
async def test_a_service_reads_exactly_what_its_router_subscribes_to(
    service: str, tmp_path: Path
) -> None:
    router = await router_of(service, tmp_path)
    assert set(router.topics) == set(CONSUMES[service])
    expected = set(router.topics) | (
        {registry.QUERY_TOPICS[service].name} if router.queries else set()
    )
    assert allowed(service, "Read") == expected


def test_the_gateway_reads_the_live_events_it_relays_and_the_dead_letters() -> None:
    """The live events it relays, and every dead-letter topic for the staff console
    (which lists them, never re-drives them: it may write to none of them)."""
    from hospeda.gateway.events import PERSONAL_TOPICS, TOPIC_PERMISSIONS

    relayed = set(TOPIC_PERMISSIONS) | PERSONAL_TOPICS
    dead_letters = {t.dlq for t in registry.TOPICS}
    assert relayed == set(CONSUMES["gateway"])
    assert allowed("gateway", "Read") == relayed | dead_letters
    assert not dead_letters & allowed("gateway", "Write")


@pytest.mark.parametrize("service", SERVICES)
def test_every_topic_a_service_names_is_one_it_may_use(service: str) -> None:
    source = "".join(p.read_text() for p in (ROOT / "services" / service / "src").rglob("*.py"))
    named = {
        TOPIC_CONSTANTS[n]
        for n in re.findall(r"\b([A-Z][A-Z_]+)\b", source)
        if n in TOPIC_CONSTANTS
    }
    if "QUERY_TOPICS" in source and service == "gateway":
        named |= {t.name for t in registry.QUERY_TOPICS.values()}
    usable = allowed(service, "Read") | allowed(service, "Write")
    assert named - usable == set(), f"{service} names topics its ACLs do not allow"


def test_each_event_topic_is_written_by_its_own_service_only() -> None:
    for topic in registry.TOPICS:
        writers = {s for s in SERVICES if topic.name in allowed(s, "Write")}
        if topic.producer in SERVICES:
            assert writers == {topic.producer}, topic.name
    for topic in (
        registry.IDENTITY_COMPANY,
        registry.IDENTITY_USER,
        *registry.QUERY_TOPICS.values(),
    ):
        assert {s for s in SERVICES if topic.name in allowed(s, "Write")} == {"gateway"}


def test_no_service_may_create_topics_or_touch_the_cluster() -> None:
    for service in SERVICES:
        for acl in PRINCIPALS[principal_name(service)].acls:
            assert acl.resource != "cluster"
            if "Create" in acl.operations:  # only its own reply topic
                assert (service, acl.name, acl.pattern) == ("gateway", "gateway.replies.", "prefix")


def test_the_kafka_ui_changes_nothing() -> None:
    operations = {op for acl in PRINCIPALS["hospeda-kafka-ui"].acls for op in acl.operations}
    assert operations <= {"Describe", "DescribeConfigs", "Read"}
