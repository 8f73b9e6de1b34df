"""Consuming messages: typed handlers, the inbox, dead letters and queries.

A service declares what it handles on a ``MessageRouter``; a
``MessageConsumer`` binds those declarations to FastStream batch subscribers.
For each batch it parses the envelopes, applies every new message in one
transaction (inbox + effects + outbox), and commits the offsets afterwards.
A message that cannot be parsed, or whose handler fails for good, goes to
``<topic>.dlq`` with the reason and its origin in headers; the consumer moves
on and never seeks back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar
from uuid import UUID

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer, ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from opentelemetry import propagate, trace
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts import (
    Actor,
    ActorKind,
    Envelope,
    Payload,
    Topic,
    UnreadableMessage,
    decode,
    utcnow,
)
from hospeda.contracts.ops import CommandRejected
from hospeda.contracts.queries import Query, QueryError, QueryReply
from hospeda.contracts.topics import OPS_COMMAND, QUERY_TOPICS
from hospeda.runtime import inbox, metrics, outbox
from hospeda.runtime.broker import publish
from hospeda.runtime.db import Database
from hospeda.runtime.errors import Forbidden, NotFound, PermanentError
from hospeda.runtime.telemetry import correlated

log = logging.getLogger(__name__)
tracer = trace.get_tracer("hospeda.runtime.messaging")

P = TypeVar("P", bound=Payload)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    ConnectionError,
    OSError,
    TimeoutError,
)
"""Failures of the infrastructure, not of the message: retried in place."""


@dataclass(frozen=True)
class Delivery:
    """Where a message was read from."""

    topic: str
    partition: int
    offset: int
    key: str | None
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def of(cls, record: ConsumerRecord[Any, Any]) -> Delivery:
        key = record.key.decode(errors="replace") if isinstance(record.key, bytes) else record.key
        return cls(record.topic, record.partition, record.offset, key, tuple(record.headers or ()))

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode(errors="replace")
        return None


@dataclass
class MessageContext:
    """What a handler gets besides the message: the open transaction, and a
    way to emit messages caused by this one (written to the outbox)."""

    session: AsyncSession
    message: Envelope[Any]
    delivery: Delivery
    service: str

    def emit(
        self,
        payload: Payload,
        *,
        topic: Topic | str,
        key: str | UUID | None,
        company_id: UUID | None = None,
        actor: Actor | None = None,
    ) -> Envelope[Any]:
        """Publish ``payload`` when this message's transaction commits,
        continuing its correlation and causation."""
        envelope = Envelope.of(
            payload,
            actor=actor or Actor.system(self.service),
            company_id=company_id if company_id is not None else self.message.company_id,
            cause=self.message,
        )
        outbox.add(self.session, envelope, topic=topic, key=key)
        return envelope


@dataclass
class QueryContext:
    """What a query handler gets: a session to read with and who is asking."""

    session: AsyncSession
    query: Envelope[Query]

    @property
    def company_id(self) -> UUID | None:
        return self.query.company_id

    @property
    def actor(self) -> Actor:
        return self.query.actor


Handler = Callable[[Envelope[Any], MessageContext], Awaitable[None]]
QueryHandler = Callable[[dict[str, Any], QueryContext], Awaitable[Any]]


@dataclass
class MessageRouter:
    """What one service consumes: handlers per topic and message type, and
    query handlers by name."""

    service: str
    handlers: dict[str, dict[str, Handler]] = field(default_factory=dict)
    catch_all: dict[str, Handler] = field(default_factory=dict)
    queries: dict[str, QueryHandler] = field(default_factory=dict)

    def on(self, topic: Topic, *payload_types: type[Payload]) -> Callable[[Handler], Handler]:
        """Register a handler for some message types of ``topic``."""
        unknown = [p.TYPE for p in payload_types if p not in topic.messages]
        if unknown:
            raise ValueError(f"{topic.name} does not carry {unknown}")

        def register(handler: Handler) -> Handler:
            by_type = self.handlers.setdefault(topic.name, {})
            for payload_type in payload_types:
                if payload_type.TYPE in by_type:
                    raise ValueError(f"{payload_type.TYPE} on {topic.name} already has a handler")
                by_type[payload_type.TYPE] = handler
            return handler

        return register

    def on_every(self, *topics: Topic) -> Callable[[Handler], Handler]:
        """Register a handler for every message of ``topics`` (audit)."""

        def register(handler: Handler) -> Handler:
            for topic in topics:
                self.catch_all[topic.name] = handler
            return handler

        return register

    def query(self, name: str) -> Callable[[QueryHandler], QueryHandler]:
        """Register the handler answering the query called ``name``."""

        def register(handler: QueryHandler) -> QueryHandler:
            if name in self.queries:
                raise ValueError(f"query {name!r} already has a handler")
            self.queries[name] = handler
            return handler

        return register

    @property
    def topics(self) -> list[str]:
        return sorted(set(self.handlers) | set(self.catch_all))

    def handler_for(self, topic: str, message_type: str) -> Handler | None:
        return self.handlers.get(topic, {}).get(message_type) or self.catch_all.get(topic)


@dataclass
class _Item:
    record: ConsumerRecord[Any, Any]
    envelope: Envelope[Any]
    handler: Handler


class MessageConsumer:
    """Binds a router to FastStream batch subscribers and applies messages
    effectively once."""

    def __init__(
        self,
        *,
        router: MessageRouter,
        db: Database,
        broker: KafkaBroker,
        producer: AIOKafkaProducer,
        group_id: str | None = None,
        max_records: int = 500,
        fetch_max_wait_ms: int = 20,
        session_timeout_ms: int = 6000,
        stale_query_after: timedelta = timedelta(seconds=30),
    ) -> None:
        self.router = router
        self.db = db
        self.broker = broker
        self.producer = producer
        self.group_id = group_id or router.service
        self.max_records = max_records
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.session_timeout_ms = session_timeout_ms
        self.stale_query_after = stale_query_after
        self.applied = 0
        self.duplicates = 0
        self.dead_lettered = 0

    def subscribe(self) -> None:
        """Create the subscribers on the broker (call before it starts)."""
        common: dict[str, Any] = {
            "batch": True,
            "max_records": self.max_records,
            "batch_timeout_ms": self.fetch_max_wait_ms,
            "fetch_max_wait_ms": self.fetch_max_wait_ms,
            "session_timeout_ms": self.session_timeout_ms,
            "heartbeat_interval_ms": max(self.session_timeout_ms // 4, 500),
            "ack_policy": AckPolicy.ACK,
        }
        if self.router.topics:

            async def on_batch(msg: KafkaMessage) -> None:
                await self.handle_batch(msg.raw_message)

            self.broker.subscriber(
                *self.router.topics, group_id=self.group_id, auto_offset_reset="earliest", **common
            )(on_batch)
        if self.router.queries:

            async def on_queries(msg: KafkaMessage) -> None:
                await self.answer_batch(msg.raw_message)

            self.broker.subscriber(
                QUERY_TOPICS[self.router.service].name,
                group_id=f"{self.group_id}.queries",
                # earliest, so a query sent while the group first joins is not
                # skipped; queries older than ``stale_query_after`` are ignored.
                auto_offset_reset="earliest",
                **common,
            )(on_queries)

    # --- commands and events ------------------------------------------------------

    async def handle_batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Apply a batch: one transaction for all, falling back to one
        transaction per message when any of them fails."""
        items: list[_Item] = []
        for record in records:
            try:
                envelope = decode(record.value)
            except UnreadableMessage as exc:
                await self.dead_letter(record, str(exc))
                continue
            handler = self.router.handler_for(record.topic, envelope.type)
            if handler is not None:
                items.append(_Item(record, envelope, handler))
        if not items:
            return
        try:
            await self._apply(items)
            return
        except Exception as exc:
            if len(items) == 1:
                await self._settle_failure(items[0], exc)
                return
            log.info("batch of %d failed (%s); applying one by one", len(items), exc)
        for item in items:
            try:
                await self._apply([item])
            except Exception as exc:
                await self._settle_failure(item, exc)

    async def _apply(self, items: list[_Item]) -> None:
        started = time.perf_counter()
        async with self.db.transaction() as session:
            fresh = await inbox.claim(session, self.group_id, (i.envelope.id for i in items))
            seen: set[UUID] = set()
            for item in items:
                message_id = item.envelope.id
                if message_id not in fresh or message_id in seen:
                    self.duplicates += 1
                    metrics.MESSAGES_DUPLICATE.labels(self.router.service, item.record.topic).inc()
                    continue
                seen.add(message_id)
                context = MessageContext(
                    session, item.envelope, Delivery.of(item.record), self.router.service
                )
                with (
                    _consumer_span(item.record, item.envelope, self.group_id),
                    correlated(item.envelope.correlation_id),
                ):
                    await item.handler(item.envelope, context)
        self.applied += len(seen)
        elapsed = time.perf_counter() - started
        for item in items:  # one transaction for the batch: its time shared out
            if item.envelope.id in seen:
                metrics.MESSAGES_HANDLED.labels(self.router.service, item.record.topic).inc()
                metrics.HANDLER_DURATION.labels(self.router.service, item.record.topic).observe(
                    elapsed / len(seen)
                )

    async def _settle_failure(self, item: _Item, exc: Exception) -> None:
        """A single message failed: retry it in place while the failure is the
        infrastructure's, dead-letter it when it is the message's."""
        attempt = 1
        while isinstance(exc, TRANSIENT_ERRORS):
            delay = min(0.5 * 2**attempt, 30.0)
            log.warning(
                "transient failure on %s, retrying in %.1fs: %s", item.envelope.type, delay, exc
            )
            await asyncio.sleep(delay)
            try:
                await self._apply([item])
                return
            except Exception as again:
                exc = again
                attempt += 1
        if not isinstance(exc, PermanentError):
            log.error("handler for %s failed", item.envelope.type, exc_info=exc)
        await self.dead_letter(item.record, f"{type(exc).__name__}: {exc}", kind=type(exc).__name__)
        await self._tell_the_sender(item.envelope, item.record.topic, exc)

    async def _tell_the_sender(self, envelope: Envelope[Any], topic: str, exc: Exception) -> None:
        """A person's command that can never be applied must not vanish into
        the DLQ: say why on ``ops.command.v1`` (the web app shows it live)."""
        if envelope.actor.kind is ActorKind.SYSTEM or not topic.endswith(".commands.v1"):
            return
        reason = (
            str(exc)
            if isinstance(exc, PermanentError)
            else (
                "não foi possível processar o pedido; a equipe foi avisada / "
                "the request could not be processed; the team has been told"
            )
        )
        rejected = Envelope.of(
            CommandRejected(
                command_id=envelope.id, command_type=envelope.type, reason=reason[:1000]
            ),
            actor=Actor.system(self.router.service),
            cause=envelope,
        )
        try:
            await publish(self.producer, rejected, topic=OPS_COMMAND, key=envelope.company_id)
        except Exception:
            log.exception("could not announce the rejection of %s", envelope.id)

    async def dead_letter(
        self, record: ConsumerRecord[Any, Any], reason: str, *, kind: str = "unreadable"
    ) -> None:
        """Park ``record`` on ``<topic>.dlq`` with why and where it came from;
        ``kind`` (an error class, ``unreadable``) labels the failure metric."""
        metrics.MESSAGES_FAILED.labels(self.router.service, record.topic, kind).inc()
        headers = [(k, v) for k, v in (record.headers or ()) if not k.startswith("x-dlq-")]
        headers += [
            ("x-dlq-reason", reason[:1000].encode()),
            ("x-dlq-original-topic", record.topic.encode()),
            ("x-dlq-original-partition", str(record.partition).encode()),
            ("x-dlq-original-offset", str(record.offset).encode()),
            ("x-dlq-consumer-group", self.group_id.encode()),
            ("x-dlq-at", utcnow().isoformat().encode()),
        ]
        await self.producer.send_and_wait(
            f"{record.topic}.dlq", record.value, key=record.key, headers=headers
        )
        self.dead_lettered += 1
        log.warning(
            "dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason
        )

    # --- queries ---------------------------------------------------------------------

    async def answer_batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        await asyncio.gather(*(self.answer(record) for record in records))

    async def answer(self, record: ConsumerRecord[Any, Any]) -> None:
        """Answer one query on its reply-to topic; never raises."""
        delivery = Delivery.of(record)
        reply_to = delivery.header("reply-to")
        try:
            envelope = decode(record.value)
        except UnreadableMessage as exc:
            await self.dead_letter(record, str(exc))
            return
        if reply_to is None or not isinstance(envelope.payload, Query):
            await self.dead_letter(record, "not a query with a reply-to header", kind="not_a_query")
            return
        if utcnow() - envelope.occurred_at > self.stale_query_after:
            return  # the asker gave up long ago
        with correlated(envelope.correlation_id):
            reply = await self._run_query(envelope, record)
        outcome = "ok" if reply.ok else (reply.error.code if reply.error else "internal")
        name = envelope.payload.name if envelope.payload.name in self.router.queries else "unknown"
        metrics.QUERIES_ANSWERED.labels(self.router.service, name, outcome).inc()
        answer = Envelope.of(reply, actor=Actor.system(self.router.service), cause=envelope)
        try:
            await publish(self.producer, answer, topic=reply_to, key=None)
        except Exception:
            log.exception("could not send the reply to %s", reply_to)

    async def _run_query(
        self, envelope: Envelope[Any], record: ConsumerRecord[Any, Any]
    ) -> QueryReply:
        query: Query = envelope.payload
        handler = self.router.queries.get(query.name)
        if handler is None:
            return QueryReply(
                ok=False,
                error=QueryError(code="unknown_query", message=f"unknown query {query.name!r}"),
            )
        try:
            with _consumer_span(
                record, envelope, f"{self.group_id}.queries", name=f"query {query.name}"
            ):
                async with self.db.transaction() as session:
                    data = await handler(dict(query.params), QueryContext(session, envelope))
            return QueryReply(ok=True, data=data)
        except NotFound as exc:
            return QueryReply(ok=False, error=QueryError(code="not_found", message=str(exc)))
        except Forbidden as exc:
            return QueryReply(ok=False, error=QueryError(code="forbidden", message=str(exc)))
        except PermanentError as exc:
            return QueryReply(ok=False, error=QueryError(code="invalid", message=str(exc)))
        except Exception:
            log.exception("query %s failed", query.name)
            return QueryReply(ok=False, error=QueryError(code="internal", message="internal error"))


@contextmanager
def _consumer_span(
    record: ConsumerRecord[Any, Any],
    envelope: Envelope[Any],
    group: str,
    *,
    name: str | None = None,
) -> Iterator[None]:
    """Process ``envelope`` inside a span continuing the trace its producer started."""
    carrier = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
    with tracer.start_as_current_span(
        name or f"{envelope.type} process",
        context=propagate.extract(carrier),
        kind=trace.SpanKind.CONSUMER,
    ) as span:
        if span.is_recording():  # attributes cost time; build them only when kept
            span.set_attributes(
                {
                    "messaging.system": "kafka",
                    "messaging.destination.name": record.topic,
                    "messaging.kafka.destination.partition": record.partition,
                    "messaging.kafka.message.offset": record.offset,
                    "messaging.message.id": str(envelope.id),
                    "messaging.consumer.group.name": group,
                    "hospeda.correlation_id": str(envelope.correlation_id),
                }
            )
        yield


def current_trace_id() -> str | None:
    """The active trace id as 32 hex digits, if there is one."""
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None
