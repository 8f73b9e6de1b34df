"""Foundation figures: outbox → broker → inbox, the job engine, request/reply."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.procs.noop_worker import engine_for
from bench.support import Report, Stopwatch, broker, fresh_database, percentile
from hospeda.contracts import Actor, Envelope
from hospeda.contracts.audit import AuditRecord
from hospeda.contracts.topics import AUDIT_RECORDS
from hospeda.runtime import outbox
from hospeda.runtime.db import Database
from hospeda.runtime.jobs import NewJob
from hospeda.runtime.messaging import MessageRouter, QueryContext
from hospeda.runtime.migrate import upgrade
from hospeda.runtime.rpc import QueryClient
from hospeda.runtime.service import ServiceRuntime
from hospeda.runtime.settings import ServiceSettings

WORKER = Path(__file__).parent / "procs" / "noop_worker.py"
RECEIVER = Path(__file__).parent / "procs" / "receiver.py"


class BenchSettings(ServiceSettings):
    service_name = "bench"


def settings(database_url: str, bootstrap: str) -> BenchSettings:
    return BenchSettings(
        DATABASE_URL=database_url,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        HOSPEDA_ENV="test",
        HOSPEDA_LOG_LEVEL="WARNING",
        HOSPEDA_LOG_JSON=False,
        HOSPEDA_KAFKA_SESSION_TIMEOUT_MS=2000,
    )


async def outbox_to_inbox(
    report: Report, admin_url: str | None, tmp: Path, count: int = 50_000
) -> None:
    """Service A writes ``count`` messages to its outbox; its relay publishes
    them; service B — another process — applies each once through its inbox."""
    async with (
        broker(tmp) as bootstrap,
        fresh_database(admin_url, tmp, "a") as url_a,
        fresh_database(admin_url, tmp, "b") as url_b,
    ):
        sender = ServiceRuntime(settings(url_a, bootstrap), router=MessageRouter("sender"))
        await sender.start()
        await sender.relay.stop()  # fill the outbox first, then time the drain
        messages = [
            Envelope.of(
                AuditRecord(action=f"bench.{i}", entity="bench"), actor=Actor.system("bench")
            )
            for i in range(count)
        ]
        with Stopwatch() as write:
            for start in range(0, count, 1000):
                async with sender.db.transaction() as session:
                    for message in messages[start : start + 1000]:
                        outbox.add(
                            session,
                            message,
                            topic=AUDIT_RECORDS,
                            key=f"company-{message.id.int % 64}",
                        )
        report.add(
            "outbox",
            f"write {count:,} messages in 1,000-message transactions",
            count / write.seconds,
            "msg/s",
        )
        receiver = await asyncio.create_subprocess_exec(
            sys.executable,
            str(RECEIVER),
            url_b,
            bootstrap,
            str(count),
            stdout=asyncio.subprocess.PIPE,
        )
        assert receiver.stdout is not None
        assert (await receiver.stdout.readline()).strip() == b"ready"
        started = time.time()
        sender.relay.start()
        finished = float((await receiver.stdout.readline()).split()[1])
        await receiver.wait()
        report.add(
            "outbox→inbox",
            f"{count:,} messages, relay → Tansu → another process's consumer + inbox",
            count / (finished - started),
            "msg/s",
        )
        await sender.stop()


async def _enqueue(url: str, count: int) -> None:
    db = Database(url)
    await upgrade(db)
    engine = engine_for(db, emit_events=True)
    for start in range(0, count, 5000):
        async with db.transaction() as session:
            await engine.enqueue_many(
                session, [NewJob("noop", {"n": i}) for i in range(start, min(count, start + 5000))]
            )
    async with db.transaction() as session:  # the job.queued events are not what we time
        await session.execute(sa.text("DELETE FROM outbox_message"))
    await db.dispose()


async def job_engine(report: Report, admin_url: str | None, tmp: Path, count: int = 50_000) -> None:
    """No-op jobs per second with 1 and 2 worker processes."""
    cases = [
        (1, 1, 0, True),
        (1, 1, 49, True),
        (1, 50, 0, True),
        (1, 50, 50, True),
        (2, 50, 0, True),
        (2, 50, 50, True),
        (1, 50, 50, False),
    ]
    for processes, concurrency, prefetch, events in cases:
        async with fresh_database(admin_url, tmp, "jobs") as url:
            await _enqueue(url, count)
            workers = [
                subprocess.Popen(
                    [
                        sys.executable,
                        str(WORKER),
                        url,
                        str(concurrency),
                        str(prefetch),
                        "1" if events else "0",
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in range(processes)
            ]
            for worker in workers:
                assert worker.stdout is not None and worker.stdin is not None
                await asyncio.to_thread(worker.stdout.readline)
            started = time.perf_counter()
            for worker in workers:
                worker.stdin.write("go\n")  # type: ignore[union-attr]
                worker.stdin.flush()  # type: ignore[union-attr]
            outputs = [await asyncio.to_thread(w.communicate) for w in workers]
            seconds = (
                time.perf_counter() - started - 0.1
            )  # workers wait 5×20 ms to see the queue empty
            done = sum(int(out.strip().split()[-1]) for out, _ in outputs)
            label = (
                f"{count:,} no-op jobs, {processes} process{'es' if processes > 1 else ''}, concurrency {concurrency}"
                + (f" + prefetch {prefetch}" if prefetch else "")
                + ("" if events else ", no job events")
            )
            report.add("jobs", label, done / seconds, "jobs/s")


async def request_reply(
    report: Report, admin_url: str | None, tmp: Path, count: int = 2000
) -> None:
    """Round trips of a trivial query: gateway → service → gateway."""
    async with broker(tmp) as bootstrap, fresh_database(admin_url, tmp, "rpc") as url:
        router = MessageRouter("notify")

        @router.query("ping")
        async def ping(params: dict[str, Any], ctx: QueryContext) -> str:
            return "pong"

        service = ServiceRuntime(settings(url, bootstrap), router=router)
        await service.start()
        client = QueryClient(
            bootstrap_servers=bootstrap, producer=service.producer, instance_id="bench"
        )
        await client.start()
        actor = Actor.system("bench")
        for _ in range(50):  # warm up (group join, connections)
            await client.ask("notify", "ping", actor=actor, timeout=10)
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            await client.ask("notify", "ping", actor=actor)
            samples.append((time.perf_counter() - started) * 1000)
        report.add(
            "request/reply", f"p50 of {count:,} sequential queries", percentile(samples, 50), "ms"
        )
        report.add(
            "request/reply", f"p99 of {count:,} sequential queries", percentile(samples, 99), "ms"
        )
        await client.stop()
        await service.stop()
