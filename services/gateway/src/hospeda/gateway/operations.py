"""What became of a command, for callers that poll instead of streaming.

A command's ``operation_id`` is its correlation id, which every message it
causes carries. When the gateway accepts a command it records the operation
in Redis; its live-event consumer then adds each event of that correlation
it reads (one hash per operation, one field per event id, so several gateway
instances writing the same event is harmless). Records expire after a week.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import redis.asyncio as redis

from hospeda.contracts import Envelope
from hospeda.contracts.ops import CommandRejected

PREFIX = "hospeda:operation:"
META = "_"
COMPANY = "_company"
TTL_S = 7 * 86400
REJECTED = CommandRejected.TYPE

# add the event only to an operation this platform accepted for the event's own
# company (a correlation id never carries one company's events to another)
_OBSERVE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
end
return 0
"""


@dataclass(frozen=True)
class Operation:
    company_id: UUID
    command: str
    resource_id: str | None
    accepted_at: datetime
    events: list[dict[str, Any]]  # oldest first: id, type, topic, occurred_at, data

    @property
    def rejection(self) -> str | None:
        for event in self.events:
            if event["type"] == REJECTED:
                return str(event["data"].get("reason"))
        return None


class Operations:
    def __init__(self, client: redis.Redis, *, ttl_s: int = TTL_S) -> None:
        self.redis = client
        self.ttl_s = ttl_s
        self._observe = client.register_script(_OBSERVE)

    async def accepted(self, command: Envelope[Any], *, resource_id: str | None) -> None:
        key = PREFIX + str(command.correlation_id)
        meta = {  # the company is its own field: the observe script compares it
            "command": command.type,
            "resource_id": resource_id,
            "accepted_at": command.occurred_at.isoformat(),
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, META, json.dumps(meta))
            pipe.hsetnx(key, COMPANY, str(command.company_id))
            pipe.expire(key, self.ttl_s)
            await pipe.execute()

    async def observe(self, events: list[tuple[str, Envelope[Any]]]) -> None:
        """Record ``(topic, event)`` pairs under their operations (one round trip)."""
        if not events:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for topic, event in events:
                record = {
                    "id": str(event.id),
                    "type": event.type,
                    "topic": topic,
                    "occurred_at": event.occurred_at.isoformat(),
                    "data": event.payload.model_dump(mode="json"),
                }
                await self._observe(
                    keys=[PREFIX + str(event.correlation_id)],
                    args=[COMPANY, str(event.company_id), str(event.id), json.dumps(record)],
                    client=pipe,
                )
            await pipe.execute()

    async def get(self, operation_id: UUID) -> Operation | None:
        fields = await self.redis.hgetall(PREFIX + str(operation_id))
        raw_meta = fields.pop(META.encode(), None)
        company = fields.pop(COMPANY.encode(), None)
        if raw_meta is None or company is None:
            return None
        meta = json.loads(raw_meta)
        events = sorted(
            (json.loads(value) for value in fields.values()),
            key=lambda e: (e["occurred_at"], e["id"]),
        )
        return Operation(
            company_id=UUID(company.decode()),
            command=meta["command"],
            resource_id=meta["resource_id"],
            accepted_at=datetime.fromisoformat(meta["accepted_at"]),
            events=events,
        )
