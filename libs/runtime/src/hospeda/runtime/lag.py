"""Offsets and consumer lag, read from the cluster (no consumer group joined).

Used by every service for its metrics (its own groups' lag, its dead-letter
topics' size) and by the operator's ``hospeda groups`` command, which adds
a status per group the way Burrow grades it:

- ``OK``: no lag, or the group is committing and the lag is not growing;
- ``WARN``: the group commits, but the lag grew between two samples;
- ``STALL``: there is lag and the committed offsets did not move;
- ``STOP``: the group has no members (nobody is consuming) and there is lag.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    end_offset: int
    committed: int | None

    @property
    def lag(self) -> int:
        return max(self.end_offset - (self.committed or 0), 0)


@dataclass
class GroupLag:
    group: str
    partitions: list[PartitionLag] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(p.lag for p in self.partitions)

    def by_topic(self) -> dict[str, int]:
        topics: dict[str, int] = {}
        for p in self.partitions:
            topics[p.topic] = topics.get(p.topic, 0) + p.lag
        return topics

    def committed_sum(self) -> int:
        return sum(p.committed or 0 for p in self.partitions)


def status(before: GroupLag | None, after: GroupLag, *, has_members: bool) -> str:
    """Burrow's verdict on a group from two samples a moment apart."""
    if after.total == 0:
        return "OK"
    if not has_members:
        return "STOP"
    if before is not None and after.committed_sum() == before.committed_sum():
        return "STALL"
    if before is not None and after.total > before.total:
        return "WARN"
    return "OK"


class Offsets:
    """A small reader of end offsets and committed offsets."""

    def __init__(self, bootstrap_servers: str, client_options: dict[str, Any] | None = None):
        self.bootstrap_servers = bootstrap_servers
        self.client_options = client_options or {}
        self.admin: AIOKafkaAdminClient | None = None
        self.consumer: AIOKafkaConsumer | None = None
        self._readers: dict[str, AIOKafkaConsumer] = {}

    async def start(self) -> None:
        self.admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers,
            client_id="hospeda-offsets",
            **self.client_options,
        )
        await self.admin.start()
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            client_id="hospeda-offsets",
            enable_auto_commit=False,
            **self.client_options,
        )
        await self.consumer.start()

    async def stop(self) -> None:
        for reader in self._readers.values():
            await reader.stop()
        if self.consumer is not None:
            await self.consumer.stop()
        if self.admin is not None:
            await self.admin.close()

    async def topics(self) -> list[str]:
        assert self.admin is not None
        return sorted(await self.admin.list_topics())

    async def partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        assert self.consumer is not None
        found: list[TopicPartition] = []
        refreshed = False
        for topic in topics:
            parts = self.consumer.partitions_for_topic(topic)
            if parts is None and not refreshed:  # once per call, not once per unknown topic
                await self.consumer._client.force_metadata_update()
                refreshed = True
                parts = self.consumer.partitions_for_topic(topic)
            found += [TopicPartition(topic, p) for p in sorted(parts or ())]
        return found

    async def sizes(self, topics: Iterable[str]) -> dict[str, int]:
        """Messages held by each of ``topics`` (0 for one that does not exist)."""
        names = list(topics)
        partitions = await self.partitions(names)
        ends = await self.end_offsets(partitions)
        starts = await self.beginning_offsets(partitions)
        held = dict.fromkeys(names, 0)
        for tp in partitions:
            held[tp.topic] += ends[tp] - starts.get(tp, 0)
        return held

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        assert self.consumer is not None
        return dict(await self.consumer.end_offsets(partitions)) if partitions else {}

    async def beginning_offsets(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        assert self.consumer is not None
        return dict(await self.consumer.beginning_offsets(partitions)) if partitions else {}

    async def records(self, topic: str) -> list[ConsumerRecord[Any, Any]]:
        """Every record ``topic`` holds now, by partition and offset (a consumer of
        its own, assigned, joining no group: nothing waits, nothing is committed).
        For small topics: dead letters, not the event streams."""
        partitions = await self.partitions([topic])
        ends = await self.end_offsets(partitions)
        wanted = [tp for tp in partitions if ends[tp] > 0]
        if not wanted:
            return []
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            client_id="hospeda-reader",
            enable_auto_commit=False,
            **self.client_options,
        )
        await reader.start()
        found: list[ConsumerRecord[Any, Any]] = []
        try:
            reader.assign(wanted)
            await reader.seek_to_beginning(*wanted)
            remaining = set(wanted)
            while remaining:
                batch = await reader.getmany(*remaining, timeout_ms=1000)
                for tp, items in batch.items():
                    found.extend(items)
                    if items and items[-1].offset >= ends[tp] - 1:
                        remaining.discard(tp)
                for tp in list(remaining):
                    if await reader.position(tp) >= ends[tp]:
                        remaining.discard(tp)
        finally:
            await reader.stop()
        return sorted(found, key=lambda r: (r.partition, r.offset))

    async def group_lag(self, group: str, topics: Iterable[str]) -> GroupLag:
        """The lag of ``group`` on ``topics``.

        Committed offsets are read by a consumer carrying the group's id that
        never subscribes (so it never joins the group): the admin client's
        OffsetFetch is not understood by the local broker."""
        partitions = await self.partitions(sorted(set(topics)))
        ends = await self.end_offsets(partitions)
        reader = self._readers.get(group)
        if reader is None:
            reader = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers,
                client_id="hospeda-offsets",
                group_id=group,
                enable_auto_commit=False,
                **self.client_options,
            )
            await reader.start()
            self._readers[group] = reader
        # one OffsetFetch for all partitions (``committed()`` asks one at a time)
        coordinator = reader._coordinator
        assert coordinator is not None
        committed = await coordinator.fetch_committed_offsets(set(partitions))
        result = GroupLag(group)
        for tp in partitions:
            meta = committed.get(tp)
            offset = meta.offset if meta is not None and meta.offset >= 0 else None
            result.partitions.append(PartitionLag(tp.topic, tp.partition, ends.get(tp, 0), offset))
        return result

    async def groups(self) -> list[str]:
        assert self.admin is not None
        return sorted(group for group, *_ in await self.admin.list_consumer_groups())

    async def members(self, group: str) -> int:
        """How many members ``group`` has right now."""
        assert self.admin is not None
        described = await self.admin.describe_consumer_groups([group])
        for response in described:
            for entry in getattr(response, "groups", ()):
                # (error_code, group_id, state, protocol_type, protocol, members, …)
                return len(entry[5])
        return 0
