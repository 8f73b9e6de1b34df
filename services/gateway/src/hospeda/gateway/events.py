"""Live events for browsers and partners (Server-Sent Events).

Each gateway instance reads the event topics in its own consumer group
(``gateway.events.<instance>``, from the newest offset: a live feed, not a
history) and hands each event to the open streams of its company whose
caller may see that topic (``permissions.TOPIC_PERMISSIONS``); a person's
own events (their inbox, ``permissions.PERSONAL_TOPICS``) go to their own
signed-in streams only. A slow
client's queue is bounded; when it overflows the stream is ended and the
browser reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer
from redis.exceptions import RedisError

from hospeda.contracts import Envelope, UnreadableMessage, decode
from hospeda.gateway.operations import Operations
from hospeda.gateway.permissions import PERSONAL_TOPICS, TOPIC_PERMISSIONS, Permission, may_see
from hospeda.runtime.broker import kafka_client_options
from hospeda.runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

QUEUE_SIZE = 256


@dataclass(frozen=True)
class LiveEvent:
    topic: str
    company_id: UUID
    data: dict[str, Any]
    event_type: str
    event_id: str


@dataclass(eq=False)
class Subscription:
    company_id: UUID
    queue: asyncio.Queue[LiveEvent | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )
    permissions: frozenset[Permission] = frozenset()
    user_id: UUID | None = None  # a signed-in person (not an API token): their own events too

    def wants(self, event: LiveEvent) -> bool:
        return event.topic in PERSONAL_TOPICS or may_see(event.topic, self.permissions)


class EventHub:
    """Fans events out from Kafka to the open streams of this instance."""

    def __init__(self, settings: ServiceSettings, operations: Operations | None = None) -> None:
        self.settings = settings
        self.operations = operations  # told of every event that belongs to an operation
        self.group_id = f"gateway.events.{settings.instance_id}"
        self.ready = asyncio.Event()
        self._subscriptions: dict[UUID, set[Subscription]] = {}
        self._people: dict[UUID, set[Subscription]] = {}

    def subscribe(
        self,
        company_id: UUID,
        permissions: frozenset[Permission],
        *,
        user_id: UUID | None = None,
    ) -> Subscription:
        subscription = Subscription(company_id, permissions=permissions, user_id=user_id)
        self._subscriptions.setdefault(company_id, set()).add(subscription)
        if user_id is not None:
            self._people.setdefault(user_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        for index, key in (
            (self._subscriptions, subscription.company_id),
            (self._people, subscription.user_id),
        ):
            group = index.get(key) if key is not None else None
            if group is not None:
                group.discard(subscription)
                if not group:
                    del index[key]

    def publish(self, event: LiveEvent, *, to_person: UUID | None = None) -> None:
        """Hand ``event`` to its company's streams (or, ``to_person``, to that
        person's streams, whatever company they have open)."""
        audience = (
            self._people.get(to_person, ())
            if to_person is not None
            else self._subscriptions.get(event.company_id, ())
        )
        for subscription in list(audience):
            if not subscription.wants(event):
                continue
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:  # too slow: end its stream, the browser reconnects
                self.unsubscribe(subscription)
                with contextlib.suppress(asyncio.QueueFull):
                    subscription.queue.get_nowait()
                    subscription.queue.put_nowait(None)

    async def run(self) -> None:
        """Read the event topics until cancelled (a ``runtime.background`` loop)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            **kafka_client_options(self.settings),
            group_id=self.group_id,
            client_id=f"hospeda-gateway-events-{self.settings.instance_id}",
            auto_offset_reset="latest",
            enable_auto_commit=True,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(self.settings.kafka_session_timeout_ms // 4, 500),
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
        )
        consumer.subscribe(sorted({*TOPIC_PERMISSIONS, *PERSONAL_TOPICS}))
        positioned: asyncio.Task[None] | None = None
        try:
            await consumer.start()
            positioned = asyncio.create_task(self._ready_when_positioned(consumer))
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=500)
                relayed = [
                    (record.topic, envelope)
                    for records in batches.values()
                    for record in records
                    if (envelope := self._relay(record.topic, record.value)) is not None
                ]
                if self.operations is not None and relayed:
                    try:
                        await self.operations.observe(relayed)
                    except RedisError:  # the live feed goes on; a poller sees less
                        log.warning("could not record operation events", exc_info=True)
        finally:
            if positioned is not None:
                positioned.cancel()
            self.ready.clear()
            await consumer.stop()

    async def _ready_when_positioned(self, consumer: AIOKafkaConsumer) -> None:
        """Ready once partitions are assigned *and* their starting offsets are
        known: an event published after that is certain to be relayed."""
        while not consumer.assignment():
            await asyncio.sleep(0.05)
        for partition in consumer.assignment():
            await consumer.position(partition)
        self.ready.set()

    def _relay(self, topic: str, value: bytes | None) -> Envelope[Any] | None:
        """Hand the event to its company's streams; the envelope, if it was one."""
        try:
            envelope = decode(value)
        except UnreadableMessage as exc:
            log.debug("skipping unreadable message on %s: %s", topic, exc)
            return None
        if topic in PERSONAL_TOPICS:
            person = getattr(envelope.payload, "user_id", None)
            if person in self._people:
                self.publish(
                    self._live(topic, envelope, envelope.company_id or person), to_person=person
                )
            return None
        if envelope.company_id is None:
            return None  # platform-wide facts are not any customer's
        if envelope.company_id in self._subscriptions:  # someone of that company watches here
            self.publish(self._live(topic, envelope, envelope.company_id))
        return envelope

    @staticmethod
    def _live(topic: str, envelope: Envelope[Any], company_id: UUID) -> LiveEvent:
        return LiveEvent(
            topic=topic,
            company_id=company_id,
            data=envelope.model_dump(mode="json", exclude={"ip"}),
            event_type=envelope.type,
            event_id=str(envelope.id),
        )
