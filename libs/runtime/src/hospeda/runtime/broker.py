"""Kafka clients, configured the same way in every service.

- ``make_broker``: the FastStream broker that runs the subscribers, with the
  OpenTelemetry middleware and the service's client id.
- ``make_producer``: the aiokafka producer the outbox relay, dead letters and
  replies use — ``acks=all``, idempotence off (the local broker rejects
  InitProducerId; safety comes from the outbox and inbox instead).
- ``kafka_client_options``: how any other aiokafka client (admin, a plain
  consumer) authenticates — SASL and TLS from the settings, nothing locally.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.security import BaseSecurity, SASLScram256, SASLScram512
from opentelemetry import trace

from hospeda.contracts import TOPICS, Envelope, Topic, encode
from hospeda.runtime.outbox import message_headers, topic_name
from hospeda.runtime.settings import KafkaClientSettings, ServiceSettings

log = logging.getLogger(__name__)


def _tls_context(settings: KafkaClientSettings) -> ssl.SSLContext:
    """Verify the brokers' certificates (and host names) against the given CA,
    or the system's."""
    cafile = str(settings.kafka_ssl_ca_file) if settings.kafka_ssl_ca_file else None
    return ssl.create_default_context(cafile=cafile)


def kafka_client_options(settings: KafkaClientSettings) -> dict[str, Any]:
    """aiokafka keyword arguments that authenticate and encrypt the connection
    as the settings say; empty for PLAINTEXT (the local broker)."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_uses_tls:
        options["ssl_context"] = _tls_context(settings)
    if settings.kafka_uses_sasl:
        password = settings.kafka_sasl_password
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": password.get_secret_value() if password else None,
        }
    return options


def kafka_security(settings: KafkaClientSettings) -> BaseSecurity | None:
    """The same as ``kafka_client_options``, in FastStream's terms."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    context = _tls_context(settings) if settings.kafka_uses_tls else None
    if not settings.kafka_uses_sasl:
        return BaseSecurity(ssl_context=context, use_ssl=context is not None)
    scram = SASLScram512 if settings.kafka_sasl_mechanism == "SCRAM-SHA-512" else SASLScram256
    password = settings.kafka_sasl_password
    return scram(
        username=settings.kafka_sasl_username or "",
        password=password.get_secret_value() if password else "",
        ssl_context=context,
        use_ssl=context is not None,
    )


def make_broker(settings: ServiceSettings, *, client_id: str | None = None) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=kafka_security(settings),
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
        **kafka_client_options(settings),
    )


async def ensure_topics(
    bootstrap_servers: str,
    *,
    partitions: int,
    replication: int,
    client_options: dict[str, Any] | None = None,
) -> None:
    """Create every registered topic and its dead-letter topic if missing.

    In production the topics exist already (the deploy's topic job or Strimzi
    creates them) and the services' principals may not create any."""
    names = [t.name for t in TOPICS] + [t.dlq for t in TOPICS]
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="hospeda-admin", **(client_options or {})
    )
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
