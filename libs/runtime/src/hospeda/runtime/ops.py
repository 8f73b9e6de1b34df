"""The operator's command line.

    python -m hospeda.runtime.ops jobs provisioning --state failed
    python -m hospeda.runtime.ops retry-job provisioning <job-id>
    python -m hospeda.runtime.ops cancel-job provisioning <job-id> --reason "duplicate order"
    python -m hospeda.runtime.ops dlq billing.commands.v1            # what is parked, and why
    python -m hospeda.runtime.ops dlq billing.commands.v1 --replay   # send it back (inboxes drop duplicates)

Talks to Kafka at ``KAFKA_BOOTSTRAP_SERVERS`` (default 127.0.0.1:9092), as
the ``KAFKA_SECURITY_PROTOCOL`` / ``KAFKA_SASL_*`` / ``KAFKA_SSL_CA_FILE``
settings say (in production: the operators' own principal, ``hospeda-ops``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hospeda.contracts import Actor, ActorKind, Envelope
from hospeda.contracts.jobs import CancelJob, RetryJob
from hospeda.contracts.topics import TOPICS_BY_NAME
from hospeda.runtime.broker import kafka_client_options, publish
from hospeda.runtime.rpc import QueryClient
from hospeda.runtime.settings import KafkaClientSettings


def _client_options() -> dict[str, Any]:
    return kafka_client_options(KafkaClientSettings())


def _operator() -> Actor:
    return Actor(
        kind=ActorKind.STAFF,
        id=os.environ.get("HOSPEDA_OPERATOR", os.environ.get("USER", "operator")),
    )


async def _with_producer(bootstrap: str, action: Any) -> Any:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, **_client_options()
    )
    await producer.start()
    try:
        return await action(producer)
    finally:
        await producer.stop()


async def job_command(
    bootstrap: str, service: str, job_id: UUID, *, cancel: bool, reason: str | None
) -> None:
    payload = CancelJob(job_id=job_id, reason=reason) if cancel else RetryJob(job_id=job_id)
    envelope = Envelope.of(payload, actor=_operator())
    topic = TOPICS_BY_NAME[f"{service}.commands.v1"]
    await _with_producer(bootstrap, lambda p: publish(p, envelope, topic=topic, key=job_id))
    print(f"sent {payload.TYPE} for job {job_id} to {topic.name}")


async def list_jobs(bootstrap: str, service: str, state: str | None) -> None:
    async def ask(producer: AIOKafkaProducer) -> Any:
        client = QueryClient(
            bootstrap_servers=bootstrap,
            producer=producer,
            instance_id=f"ops-{os.getpid()}",
            client_options=_client_options(),
        )
        await client.start()
        try:
            return await client.ask(
                service, "jobs.list", {"state": state} if state else {}, actor=_operator()
            )
        finally:
            await client.stop()

    for job in await _with_producer(bootstrap, ask):
        error = f"  {job['last_error']}" if job["last_error"] else ""
        print(
            f"{job['id']}  {job['state']:<10} {job['kind']:<24} {job['attempts']}/{job['max_attempts']}{error}"
        )


async def dead_letters(bootstrap: str, topic: str, *, replay: bool) -> None:
    consumer = AIOKafkaConsumer(
        f"{topic}.dlq",
        bootstrap_servers=bootstrap,
        group_id="hospeda.ops.replay" if replay else None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=2000,
        **_client_options(),
    )
    await consumer.start()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, **_client_options()
    )
    await producer.start()
    count = 0
    try:
        while batch := await consumer.getmany(timeout_ms=1500):
            for records in batch.values():
                for record in records:
                    headers = dict(record.headers or ())
                    reason = headers.get("x-dlq-reason", b"?").decode(errors="replace")
                    origin = headers.get("x-dlq-original-topic", topic.encode()).decode()
                    print(
                        json.dumps(
                            {"offset": record.offset, "origin": origin, "reason": reason},
                            ensure_ascii=False,
                        )
                    )
                    if replay:
                        kept = [
                            (k, v) for k, v in (record.headers or ()) if not k.startswith("x-dlq-")
                        ]
                        await producer.send_and_wait(
                            origin, record.value, key=record.key, headers=kept
                        )
                    count += 1
            if replay:
                await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
    print(f"{count} message(s){' replayed' if replay else ''}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hospeda.runtime.ops",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    sub = parser.add_subparsers(dest="command", required=True)
    jobs = sub.add_parser("jobs", help="list a service's jobs")
    jobs.add_argument("service")
    jobs.add_argument("--state")
    for name in ("retry-job", "cancel-job"):
        command = sub.add_parser(name, help=f"{name.split('-')[0]} a job")
        command.add_argument("service")
        command.add_argument("job_id", type=UUID)
        command.add_argument("--reason")
    dlq = sub.add_parser("dlq", help="show (or replay) a topic's dead letters")
    dlq.add_argument("topic")
    dlq.add_argument("--replay", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "jobs":
        asyncio.run(list_jobs(args.bootstrap, args.service, args.state))
    elif args.command in ("retry-job", "cancel-job"):
        asyncio.run(
            job_command(
                args.bootstrap,
                args.service,
                args.job_id,
                cancel=args.command == "cancel-job",
                reason=args.reason,
            )
        )
    else:
        asyncio.run(dead_letters(args.bootstrap, args.topic, replay=args.replay))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
