"""/metrics of a running service: the families every service exports, with
labels that name topics and kinds (never ids), moving with real messages."""

from __future__ import annotations

import httpx
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from rtkit import audit_message, audit_router, create_effects, make_settings, producer  # noqa: F401

from hospeda.contracts import encode
from hospeda.contracts.topics import AUDIT_RECORDS
from hospeda.devstack.servers import free_port
from hospeda.devstack.testing import eventually
from hospeda.runtime.service import ServiceRuntime


async def scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample on the endpoint: name → labels → value."""
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics")
    response.raise_for_status()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        samples.setdefault(family.name, {})
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


async def test_a_running_service_exports_its_metrics_and_they_move(
    database_url: str,
    kafka_bootstrap: str,
    producer: AIOKafkaProducer,  # noqa: F811
) -> None:
    port = free_port()
    runtime = ServiceRuntime(
        make_settings(
            database_url,
            kafka_bootstrap,
            HOSPEDA_METRICS_PORT=port,
            HOSPEDA_METRICS_INTERVAL_S=0.2,
        ),
        router=audit_router(),
    )
    await create_effects(runtime.db)
    await runtime.start()
    try:
        before = await scrape(port)
        for family in (
            "hospeda_messages_handled",
            "hospeda_messages_failed",
            "hospeda_message_handler_duration_seconds",
            "hospeda_messages_published",
            "hospeda_jobs",
            "hospeda_job_retries",
            "hospeda_outbox_backlog_messages",
            "hospeda_consumer_lag_messages",
            "hospeda_dlq_messages",
            "hospeda_external_request_duration_seconds",
            "hospeda_external_request_errors",
            "hospeda_http_requests",
        ):
            assert family in before, family
        handled = dict(service="rtsvc", topic=AUDIT_RECORDS.name)
        start = value(before, "hospeda_messages_handled_total", **handled)
        failed = dict(handled, reason="PermanentError")
        failed_start = value(before, "hospeda_messages_failed_total", **failed)

        for action in ("one", "two", "three", "explode"):
            await producer.send_and_wait(
                AUDIT_RECORDS.name, encode(audit_message(action)), key=b"k"
            )

        async def moved() -> bool:
            now = await scrape(port)
            return (
                value(now, "hospeda_messages_handled_total", **handled) - start == 3
                and value(now, "hospeda_messages_failed_total", **failed) - failed_start == 1
                and value(now, "hospeda_dlq_messages", **handled) >= 1
                and value(now, "hospeda_consumer_lag_messages", **handled, group="rtsvc") == 0
            )

        await eventually(moved, timeout=30, message="the counters to follow the messages")
        after = await scrape(port)
        assert value(after, "hospeda_message_handler_duration_seconds_count", **handled) >= 3
        # labels are topics, kinds and reasons — never a message, job or company id
        for samples in after.values():
            for labels in samples:
                for _, label in labels:
                    assert len(label) < 64 and not _looks_like_an_id(label), labels
    finally:
        await runtime.stop()


def _looks_like_an_id(text: str) -> bool:
    import re

    return bool(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text))
