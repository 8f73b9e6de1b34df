"""``hospeda``: the operator's command line.

    hospeda topics                                   partitions and end offsets
    hospeda groups                                   lag per consumer group, OK/WARN/STALL/STOP
    hospeda jobs list provisioning --state failed
    hospeda jobs show provisioning JOB_ID            with its step log
    hospeda jobs retry provisioning JOB_ID | --all-failed
    hospeda jobs cancel provisioning JOB_ID --reason "duplicate order"
    hospeda dlq list billing.commands.v1             what is parked, and why
    hospeda dlq show billing.commands.v1 0:12
    hospeda dlq redrive billing.commands.v1 0:12 | --all
    hospeda dlq discard billing.commands.v1 0:12 --reason "test order"
    hospeda audit verify [--company ID]              hashes, chains, signed checkpoints
    hospeda replay billing.invoice.v1 --from 2026-01-01T00:00Z --to 2026-01-02T00:00Z \\
        --to-topic partner-acme.billing.invoice.v1

It talks to the platform only through Kafka — commands and request/reply
queries, the cluster's offsets — never to a database. It connects as the
``KAFKA_*`` settings say (``KAFKA_BOOTSTRAP_SERVERS``, default
127.0.0.1:9092; in production the operators' principal, ``hospeda-ops``).
Every action that changes something asks first (``--yes`` for scripts) and
is written to the audit trail as the operator (``HOSPEDA_OPERATOR``, else
``$USER``).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

import typer
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from rich.console import Console
from rich.table import Table

from hospeda.contracts import Actor, ActorKind, Envelope
from hospeda.contracts.audit import AuditRecord
from hospeda.contracts.jobs import CancelJob, RetryJob
from hospeda.contracts.topics import AUDIT_RECORDS, TOPICS, TOPICS_BY_NAME
from hospeda.runtime import lag
from hospeda.runtime.broker import kafka_client_options, publish
from hospeda.runtime.rpc import QueryClient
from hospeda.runtime.settings import KafkaClientSettings

# \b: click keeps the examples' lines as they are
app = typer.Typer(
    help=(__doc__ or "").replace("line.\n\n", "line.\n\n\b\n", 1),
    no_args_is_help=True,
    rich_markup_mode=None,
)
jobs_app = typer.Typer(help="A service's durable jobs.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters of a topic (<topic>.dlq).", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
app.add_typer(dlq_app, name="dlq")
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
console = Console()

T = TypeVar("T")

Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]

STATUS_STYLE = {"OK": "green", "WARN": "yellow", "STALL": "red", "STOP": "bold red"}


def _settings() -> KafkaClientSettings:
    return KafkaClientSettings()


def _operator() -> Actor:
    return Actor(
        kind=ActorKind.STAFF,
        id=os.environ.get("HOSPEDA_OPERATOR", os.environ.get("USER", "operator")),
    )


def _run(work: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(work())  # type: ignore[arg-type]


def _confirm(question: str, yes: bool) -> None:
    if not yes and not typer.confirm(question):
        raise typer.Abort()


class Platform:
    """The Kafka clients one command needs, started on first use."""

    def __init__(self) -> None:
        settings = _settings()
        self.bootstrap = settings.kafka_bootstrap_servers
        self.options = kafka_client_options(settings)
        self._producer: AIOKafkaProducer | None = None
        self._queries: QueryClient | None = None
        self._offsets: lag.Offsets | None = None

    async def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                enable_idempotence=False,
                **self.options,
            )
            await self._producer.start()
        return self._producer

    async def ask(
        self,
        service: str,
        name: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        if self._queries is None:
            self._queries = QueryClient(
                bootstrap_servers=self.bootstrap,
                producer=await self.producer(),
                instance_id=f"ops-{os.getpid()}",
                timeout=10,
                client_options=self.options,
            )
            await self._queries.start()
        return await self._queries.ask(
            service, name, params or {}, actor=_operator(), timeout=timeout
        )

    async def offsets(self) -> lag.Offsets:
        if self._offsets is None:
            self._offsets = lag.Offsets(self.bootstrap, self.options)
            await self._offsets.start()
        return self._offsets

    async def audit(self, action: str, entity: str, entity_id: str | None, **after: Any) -> None:
        """Write what the operator did to the audit trail."""
        record = AuditRecord(action=action, entity=entity, entity_id=entity_id, after=after)
        envelope = Envelope.of(record, actor=_operator())
        await publish(await self.producer(), envelope, topic=AUDIT_RECORDS, key="platform")

    async def close(self) -> None:
        if self._queries is not None:
            await self._queries.stop()
        if self._offsets is not None:
            await self._offsets.stop()
        if self._producer is not None:
            await self._producer.stop()


@asynccontextmanager
async def platform() -> AsyncIterator[Platform]:
    clients = Platform()
    try:
        yield clients
    finally:
        await clients.close()


# --- topics and consumer groups -----------------------------------------------------------


@app.command()
def topics() -> None:
    """Every topic: partitions and end offsets (messages written so far)."""

    async def work() -> None:
        async with platform() as p:
            offsets = await p.offsets()
            table = Table("topic", "partitions", "end offsets", "messages")
            for topic in await offsets.topics():
                partitions = await offsets.partitions([topic])
                ends = await offsets.end_offsets(partitions)
                table.add_row(
                    topic,
                    str(len(partitions)),
                    " ".join(str(ends[tp]) for tp in partitions),
                    str(sum(ends.values())),
                )
            console.print(table)

    _run(work)


async def group_report(p: Platform, interval: float) -> list[dict[str, Any]]:
    """Each consumer group's lag and Burrow-style status, from two samples."""
    offsets = await p.offsets()
    known = [t.name for t in TOPICS] + [t.dlq for t in TOPICS]
    groups = [g for g in await offsets.groups() if not g.startswith("hospeda-offsets")]
    first: dict[str, lag.GroupLag] = {}
    for group in groups:
        sample = await offsets.group_lag(group, known)
        sample.partitions = [pl for pl in sample.partitions if pl.committed is not None]
        first[group] = sample
    await asyncio.sleep(interval)
    report = []
    for group in groups:
        topics_of_group = sorted({pl.topic for pl in first[group].partitions})
        second = await offsets.group_lag(group, topics_of_group)
        second.partitions = [pl for pl in second.partitions if pl.committed is not None]
        members = await offsets.members(group)
        report.append(
            {
                "group": group,
                "members": members,
                "topics": second.by_topic(),
                "lag": second.total,
                "status": lag.status(first[group], second, has_members=members > 0),
            }
        )
    return report


@app.command()
def groups(
    interval: Annotated[float, typer.Option(help="Seconds between the two samples.")] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """Consumer groups: lag per topic and a status (OK / WARN / STALL / STOP)."""

    async def work() -> None:
        async with platform() as p:
            report = await group_report(p, interval)
        if as_json:
            for row in report:
                print(json.dumps(row))
            return
        table = Table("group", "members", "lag", "status", "topics with lag")
        for row in report:
            style = STATUS_STYLE[row["status"]]
            behind = ", ".join(f"{t}={n}" for t, n in row["topics"].items() if n)
            table.add_row(
                row["group"],
                str(row["members"]),
                str(row["lag"]),
                f"[{style}]{row['status']}[/]",
                behind or "-",
            )
        console.print(table)

    _run(work)


# --- jobs ----------------------------------------------------------------------------------


def _commands_topic(service: str) -> Any:
    topic = TOPICS_BY_NAME.get(f"{service}.commands.v1")
    if topic is None:
        raise typer.BadParameter(f"{service} has no commands topic")
    return topic


@jobs_app.command("list")
def jobs_list(
    service: str,
    state: Annotated[str | None, typer.Option(help="queued, running, failed…")] = None,
    limit: int = 50,
) -> None:
    """A service's jobs, newest first."""

    async def work() -> None:
        async with platform() as p:
            params: dict[str, Any] = {"limit": limit}
            if state:
                params["state"] = state
            found = await p.ask(service, "jobs.list", params)
        table = Table("id", "state", "kind", "attempts", "last error")
        for job in found:
            table.add_row(
                job["id"],
                job["state"],
                job["kind"],
                f"{job['attempts']}/{job['max_attempts']}",
                (job["last_error"] or "")[:80],
            )
        console.print(table)

    _run(work)


@jobs_app.command("show")
def jobs_show(service: str, job_id: UUID) -> None:
    """One job, with its step log."""

    async def work() -> None:
        async with platform() as p:
            job = await p.ask(service, "jobs.get", {"job_id": str(job_id)})
        for key in ("id", "kind", "queue", "key", "state", "attempts", "max_attempts"):
            console.print(f"[bold]{key}[/]: {job[key]}")
        console.print(f"[bold]last_error[/]: {job['last_error'] or '-'}")
        table = Table("at", "attempt", "step", "status", "message")
        for line in job["log"]:
            table.add_row(
                str(line.get("at", "")),
                str(line.get("attempt", "")),
                str(line.get("step") or ""),
                str(line.get("status", "")),
                str(line.get("message", "")),
            )
        console.print(table)

    _run(work)


@jobs_app.command("retry")
def jobs_retry(
    service: str,
    job_id: Annotated[UUID | None, typer.Argument()] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed")] = False,
    yes: Yes = False,
) -> None:
    """Run a failed job again (or every failed job of the service)."""
    if (job_id is None) == (not all_failed):
        raise typer.BadParameter("give a JOB_ID or --all-failed")

    async def work() -> None:
        async with platform() as p:
            ids = (
                [job_id]
                if job_id is not None
                else [
                    UUID(j["id"])
                    for j in await p.ask(service, "jobs.list", {"state": "failed", "limit": 500})
                ]
            )
            if not ids:
                console.print("no failed jobs")
                return
            _confirm(f"retry {len(ids)} job(s) of {service}?", yes)
            topic = _commands_topic(service)
            for one in ids:
                envelope = Envelope.of(RetryJob(job_id=one), actor=_operator())
                await publish(await p.producer(), envelope, topic=topic, key=one)
                await p.audit("ops.job.retry", "job", str(one), service=service)
                console.print(f"retry sent for {one}")

    _run(work)


@jobs_app.command("cancel")
def jobs_cancel(
    service: str,
    job_id: UUID,
    reason: Annotated[str, typer.Option(help="Why (kept in the job log and the audit).")],
    yes: Yes = False,
) -> None:
    """Stop a queued, retrying or failed job."""

    async def work() -> None:
        _confirm(f"cancel job {job_id} of {service}?", yes)
        async with platform() as p:
            envelope = Envelope.of(CancelJob(job_id=job_id, reason=reason), actor=_operator())
            await publish(await p.producer(), envelope, topic=_commands_topic(service), key=job_id)
            await p.audit("ops.job.cancel", "job", str(job_id), service=service, reason=reason)
        console.print(f"cancel sent for {job_id}")

    _run(work)


# --- dead letters ----------------------------------------------------------------------------


async def read_all(p: Platform, topic: str) -> list[ConsumerRecord[Any, Any]]:
    """Every record of ``topic`` now, by partition and offset (no group: no wait)."""
    return await (await p.offsets()).records(topic)


def _headers(record: ConsumerRecord[Any, Any]) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in (record.headers or ())}


def _ref(record: ConsumerRecord[Any, Any]) -> str:
    return f"{record.partition}:{record.offset}"


def _pick(records: list[ConsumerRecord[Any, Any]], ref: str) -> ConsumerRecord[Any, Any]:
    for record in records:
        if _ref(record) == ref:
            return record
    raise typer.BadParameter(f"no dead letter {ref} (PARTITION:OFFSET, see `hospeda dlq list`)")


def _dlq_name(topic: str) -> str:
    return topic if topic.endswith(".dlq") else f"{topic}.dlq"


@dlq_app.command("list")
def dlq_list(topic: str) -> None:
    """What is parked on ``<topic>.dlq``, where it came from and why."""

    async def work() -> None:
        async with platform() as p:
            records = await read_all(p, _dlq_name(topic))
        table = Table("id", "type", "from", "at", "reason")
        for record in records:
            h = _headers(record)
            origin = (
                f"{h.get('x-dlq-original-topic', '?')}[{h.get('x-dlq-original-partition', '?')}]"
                f"@{h.get('x-dlq-original-offset', '?')}"
            )
            table.add_row(
                _ref(record),
                h.get("type", "?"),
                origin,
                h.get("x-dlq-at", "")[:19],
                h.get("x-dlq-reason", "")[:100],
            )
        console.print(table)
        console.print(f"{len(records)} dead letter(s)")

    _run(work)


@dlq_app.command("show")
def dlq_show(topic: str, ref: Annotated[str, typer.Argument(help="PARTITION:OFFSET")]) -> None:
    """One dead letter: its headers and message."""

    async def work() -> None:
        async with platform() as p:
            record = _pick(await read_all(p, _dlq_name(topic)), ref)
        for key, value in _headers(record).items():
            console.print(f"[bold]{key}[/]: {value}")
        try:
            console.print_json(record.value.decode())
        except (ValueError, AttributeError):
            console.print(repr(record.value))

    _run(work)


@dlq_app.command("redrive")
def dlq_redrive(
    topic: str,
    ref: Annotated[str | None, typer.Argument(help="PARTITION:OFFSET")] = None,
    all_: Annotated[bool, typer.Option("--all")] = False,
    yes: Yes = False,
) -> None:
    """Send dead letters back to the topic they came from (inboxes drop duplicates)."""
    if (ref is None) == (not all_):
        raise typer.BadParameter("give a PARTITION:OFFSET or --all")

    async def work() -> None:
        async with platform() as p:
            records = await read_all(p, _dlq_name(topic))
            chosen = records if all_ else [_pick(records, ref or "")]
            if not chosen:
                console.print("nothing to re-drive")
                return
            _confirm(f"re-drive {len(chosen)} message(s) from {_dlq_name(topic)}?", yes)
            producer = await p.producer()
            for record in chosen:
                h = _headers(record)
                origin = h.get("x-dlq-original-topic") or _dlq_name(topic).removesuffix(".dlq")
                kept = [(k, v) for k, v in (record.headers or ()) if not k.startswith("x-dlq-")]
                await producer.send_and_wait(origin, record.value, key=record.key, headers=kept)
                await p.audit(
                    "ops.dlq.redrive",
                    "dead_letter",
                    f"{_dlq_name(topic)}:{_ref(record)}",
                    to=origin,
                    message_id=h.get("message-id"),
                )
                console.print(f"re-drove {_ref(record)} to {origin}")

    _run(work)


@dlq_app.command("discard")
def dlq_discard(
    topic: str,
    ref: Annotated[str, typer.Argument(help="PARTITION:OFFSET")],
    reason: Annotated[str, typer.Option(help="Why it will never be re-driven.")],
    yes: Yes = False,
) -> None:
    """Record that a dead letter is given up on, and why (the audit keeps it;
    the topic itself is append-only and its retention removes the message)."""

    async def work() -> None:
        async with platform() as p:
            record = _pick(await read_all(p, _dlq_name(topic)), ref)
            _confirm(f"discard {ref} of {_dlq_name(topic)}?", yes)
            await p.audit(
                "ops.dlq.discard",
                "dead_letter",
                f"{_dlq_name(topic)}:{_ref(record)}",
                reason=reason,
                message_id=_headers(record).get("message-id"),
            )
        console.print(f"discarded {ref}: {reason}")

    _run(work)


# --- replay -----------------------------------------------------------------------------------


def _when(text: str) -> int:
    """ISO 8601 (UTC if no offset) → milliseconds since the epoch."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@app.command()
def replay(
    topic: str,
    to_topic: Annotated[str, typer.Option("--to-topic", help="Where the copies go.")],
    since: Annotated[str, typer.Option("--from", help="ISO time, inclusive.")],
    until: Annotated[str, typer.Option("--to", help="ISO time, exclusive.")],
    yes: Yes = False,
) -> None:
    """Copy a time window of ``topic`` to ``--to-topic`` (for a partner who lost
    data: same keys, values and headers, so order per key is kept)."""

    async def work() -> None:
        start, end = _when(since), _when(until)
        async with platform() as p:
            records = [r for r in await read_all(p, topic) if start <= r.timestamp < end]
            _confirm(f"copy {len(records)} message(s) of {topic} to {to_topic}?", yes)
            producer = await p.producer()
            for record in records:
                await producer.send_and_wait(
                    to_topic, record.value, key=record.key, headers=list(record.headers or ())
                )
            await p.audit(
                "ops.replay",
                "topic",
                topic,
                to_topic=to_topic,
                since=since,
                until=until,
                messages=len(records),
            )
        console.print(f"copied {len(records)} message(s) to {to_topic}")

    _run(work)


def main() -> None:
    app()


__all__ = ["TopicPartition", "app", "main"]


# --- the audit trail ---------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(
    company: Annotated[
        str | None, typer.Option(help="Check this company's chain too (the tree is always whole).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the answer.")] = 300,
) -> None:
    """Recompute every hash, chain link, Merkle root and checkpoint signature (the
    audit service does it, asked through Kafka). Exit 1 when anything is broken."""

    async def work() -> dict[str, Any]:
        async with platform() as p:
            params = {"company": company} if company else {}
            answer: dict[str, Any] = await p.ask("audit", "log.verify", params, timeout=timeout)
            return answer

    report = _run(work)
    console.print(
        report["summary"], style=None if report["ok"] else "bold red", markup=False, highlight=False
    )
    if not report["ok"]:
        raise typer.Exit(1)
