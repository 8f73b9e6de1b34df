"""Live events for browsers and partners (Server-Sent Events).

Each gateway instance reads the event topics in its own consumer group
(``gateway.events.<instance>``, from the newest offset: a live feed, not a
history) and hands each event to the open streams of its company whose
caller may see that topic (``permissions.TOPIC_PERMISSIONS``); a person's
own events (their inbox, ``permissions.PERSONAL_TOPICS``) go to their own
signed-in streams only. A slow
client's queue is bounded; when it overflows the stream is ended and the
browser reconnects.

A reconnecting browser sends ``Last-Event-ID``: ``EventLog`` keeps the last
events of each company (and each person's own) in Redis, so the stream first
replays what it missed, through the same permission filter, then goes live.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import redis.asyncio as redis
from aiokafka import AIOKafkaConsumer
from redis.exceptions import RedisError

from hospeda.contracts import Envelope, UnreadableMessage, decode
from hospeda.gateway.operations import Operations
from hospeda.gateway.permissions import PERSONAL_TOPICS, TOPIC_PERMISSIONS, Permission, may_see
from hospeda.runtime.broker import kafka_client_options
from hospeda.runtime.settings import ServiceSettings

LIVE_FETCH_WAIT_MS = 100
"""The events hub's longest fetch wait: live pages stay live, idle fetches stay rare."""

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
BACKLOG_SIZE = 300  # events kept per company (and per person) for reconnecting streams
BACKLOG_TTL_S = 86_400
BACKLOG_PREFIX = "hospeda:events:"


@dataclass(frozen=True)
class LiveEvent:
    topic: str
    company_id: UUID
    data: dict[str, Any]
    event_type: str
    event_id: str


# each event once, whichever gateway instance read it first (they all read every event)
_REMEMBER = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return 0
"""


class EventLog:
    """The recent events of each company and person, oldest first, in Redis."""

    def __init__(self, client: redis.Redis, *, size: int = BACKLOG_SIZE) -> None:
        self.redis = client
        self.size = size
        self._script = client.register_script(_REMEMBER)

    @staticmethod
    def _key(owner: str) -> str:
        return BACKLOG_PREFIX + owner

    async def remember(self, events: list[tuple[str, LiveEvent]]) -> None:
        """Keep ``(owner, event)`` pairs; owner is ``company:<id>`` or ``person:<id>``."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for owner, event in events:
                record = json.dumps(
                    {
                        "topic": event.topic,
                        "company_id": str(event.company_id),
                        "data": event.data,
                        "type": event.event_type,
                        "id": event.event_id,
                    }
                )
                await self._script(
                    keys=[f"{BACKLOG_PREFIX}seen:{owner}:{event.event_id}", self._key(owner)],
                    args=[record, self.size, BACKLOG_TTL_S],
                    client=pipe,
                )
            await pipe.execute()

    async def missed(self, owners: list[str], last_id: str) -> list[LiveEvent]:
        """The events of ``owners`` after event ``last_id``, oldest first. Each
        list is cut after that id when it holds it, else by its time; when no
        list knows it (too old), everything that is kept."""
        lists = [[json.loads(item) for item in await self.redis.lrange(self._key(o), 0, -1)]
                 for o in owners]  # fmt: skip
        anchor = next(
            (
                e["data"].get("occurred_at")
                for events in lists
                for e in events
                if e["id"] == last_id
            ),
            None,
        )
        found: list[dict[str, Any]] = []
        for events in lists:
            ids = [e["id"] for e in events]
            if last_id in ids:
                found += events[ids.index(last_id) + 1 :]
            elif anchor is not None:
                found += [e for e in events if (e["data"].get("occurred_at") or "") > anchor]
            else:
                found += events
        found.sort(key=lambda e: e["data"].get("occurred_at") or "")
        return [
            LiveEvent(
                topic=e["topic"],
                company_id=UUID(e["company_id"]),
                data=e["data"],
                event_type=e["type"],
                event_id=e["id"],
            )
            for e in found
        ]


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

    def __init__(
        self,
        settings: ServiceSettings,
        operations: Operations | None = None,
        backlog: EventLog | None = None,
    ) -> None:
        self.settings = settings
        self.operations = operations  # told of every event that belongs to an operation
        self.backlog = backlog  # what a reconnecting stream missed
        self._remembered: list[tuple[str, LiveEvent]] = []
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
            # the broker answers as soon as an event arrives; the wait only spaces out
            # the empty answers, whose decoding cost the request path ~7% of the CPU
            fetch_max_wait_ms=max(self.settings.kafka_fetch_max_wait_ms, LIVE_FETCH_WAIT_MS),
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
                remembered, self._remembered = self._remembered, []
                if self.backlog is not None and remembered:
                    try:
                        await self.backlog.remember(remembered)
                    except RedisError:  # the live feed goes on; a reconnect replays less
                        log.warning("could not keep events for replay", exc_info=True)
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
            if person is None:
                return None
            event = self._live(topic, envelope, envelope.company_id or person)
            self._remembered.append((f"person:{person}", event))
            if person in self._people:
                self.publish(event, to_person=person)
            return None
        if envelope.company_id is None:
            return None  # platform-wide facts are not any customer's
        event = self._live(topic, envelope, envelope.company_id)
        self._remembered.append((f"company:{envelope.company_id}", event))
        if envelope.company_id in self._subscriptions:  # someone of that company watches here
            self.publish(event)
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
