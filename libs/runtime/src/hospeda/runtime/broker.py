"""Kafka clients, configured the same way in every service.

- ``make_broker``: the FastStream broker that runs the subscribers, with the
  OpenTelemetry middleware and the service's client id.
- ``make_producer``: the aiokafka producer the outbox relay, dead letters and
  replies use — ``acks=all``, idempotence off (the local broker rejects
  InitProducerId; safety comes from the outbox and inbox instead).
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from opentelemetry import trace

from hospeda.contracts import TOPICS, Envelope, Topic, encode
from hospeda.runtime.outbox import message_headers, topic_name
from hospeda.runtime.settings import ServiceSettings

log = logging.getLogger(__name__)


def make_broker(settings: ServiceSettings, *, client_id: str | None = None) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=client_id or f"hospeda-{settings.service_name}",
        acks="all",
        enable_idempotence=False,
        middlewares=[KafkaTelemetryMiddleware(tracer_provider=trace.get_tracer_provider())],
        logger=logging.getLogger(f"hospeda.{settings.service_name}.broker"),
        log_level=logging.DEBUG,
        graceful_timeout=15.0,
    )


def make_producer(settings: ServiceSettings, *, client_id: str | None = None) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=client_id or f"hospeda-{settings.service_name}-producer",
        acks="all",
        enable_idempotence=False,
        linger_ms=1,
        max_batch_size=256 * 1024,
        request_timeout_ms=30000,
    )


async def ensure_topics(bootstrap_servers: str, *, partitions: int, replication: int) -> None:
    """Create every registered topic and its dead-letter topic if missing."""
    names = [t.name for t in TOPICS] + [t.dlq for t in TOPICS]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="hospeda-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, partitions, replication) for name in names if name not in existing
        ]
        if missing:
            response = await admin.create_topics(missing)
            for topic_name, code, *_ in getattr(response, "topic_errors", ()):
                if code not in (0, 36):  # 36: TOPIC_ALREADY_EXISTS (another service won the race)
                    log.warning("could not create topic %s (error %s)", topic_name, code)
    finally:
        await admin.close()


async def publish(
    producer: AIOKafkaProducer,
    envelope: Envelope[Any],
    *,
    topic: Topic | str,
    key: str | UUID | None,
    extra_headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """Publish one message now and wait for the broker's acknowledgement.

    For messages that announce no state change of the sender (commands from
    the gateway, query replies); state changes go through the outbox."""
    headers = [(k, v.encode()) for k, v in message_headers(envelope)] + (extra_headers or [])
    await producer.send_and_wait(
        topic_name(topic),
        encode(envelope),
        key=str(key).encode() if key is not None else None,
        headers=headers,
    )
