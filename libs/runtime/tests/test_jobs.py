"""The durable job engine against the real database (and processes that die)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rtkit import EffectBase, Execution, job_engine_for_tests, make_settings, read_topic

from hospeda.contracts import Actor, decode
from hospeda.contracts.topics import OPS_ALERT, job_topic
from hospeda.devstack.testing import eventually
from hospeda.runtime.clock import ManualClock
from hospeda.runtime.db import Database
from hospeda.runtime.errors import PermanentError
from hospeda.runtime.jobs import JobContext, JobEngine, NewJob, RetryPolicy
from hospeda.runtime.migrate import upgrade
from hospeda.runtime.models import Job, JobLog, OutboxMessage

WORKER_SCRIPT = Path(__file__).parent / "procs" / "job_worker.py"
OPERATOR = Actor(kind="staff", id="operator-1")


@pytest.fixture
async def db(database_url: str):
    database = Database(database_url)
    await upgrade(database)
    async with database.engine.begin() as conn:
        await conn.run_sync(EffectBase.metadata.create_all)
    yield database
    await database.dispose()


async def job_row(db: Database, job_id: Any) -> Any:
    async with db.transaction() as session:
        return (await session.execute(sa.select(Job).where(Job.id == job_id))).scalar_one()


async def outbox_types(db: Database) -> list[tuple[str, str]]:
    async with db.transaction() as session:
        rows = (
            (await session.execute(sa.select(OutboxMessage).order_by(OutboxMessage.seq)))
            .scalars()
            .all()
        )
    return [(row.topic, decode(row.value).type) for row in rows]


async def test_a_failing_job_retries_on_schedule_dead_letters_then_succeeds_after_operator_retry(
    db: Database,
) -> None:
    clock = ManualClock()
    engine = JobEngine(db, service="rtsvc", job_topic=job_topic("provisioning"), clock=clock)
    runs: list[Any] = []
    healthy = False

    @engine.kind(
        "flaky",
        queue="q",
        policy=RetryPolicy(max_attempts=5, base_delay=timedelta(seconds=5), jitter=0.1),
    )
    async def flaky(ctx: JobContext) -> None:
        runs.append(clock.now())
        if not healthy:
            raise ConnectionError("WHM did not answer")

    async with db.transaction() as session:
        job_id = await engine.enqueue(session, "flaky", {"service": "s-1"})
    worker = engine.worker(concurrency=1, poll_interval=0.01)
    worker.start()
    try:
        delays = []
        for attempt in range(1, 5):
            await eventually(lambda n=attempt: len(runs) == n, message=f"attempt {attempt}")
            await eventually(lambda: _state(db, job_id, "queued"), message="retry scheduled")
            row = await job_row(db, job_id)
            delays.append((row.run_at - clock.now()).total_seconds())
            clock.set(row.run_at)
        await eventually(lambda: len(runs) == 5, message="attempt 5")
        await eventually(
            lambda: _state(db, job_id, "failed"), message="failed after the last attempt"
        )
        for nominal, actual in zip((5, 10, 20, 40), delays, strict=True):
            assert nominal * 0.9 <= actual <= nominal * 1.1, delays
        row = await job_row(db, job_id)
        assert row.attempts == 5 and "WHM did not answer" in row.last_error
        events = await outbox_types(db)
        assert (job_topic("provisioning").dlq, "job.dead_lettered") in events
        assert (OPS_ALERT.name, "ops.alert.raised") in events
        assert [t for _, t in events].count("job.retry_scheduled") == 4

        healthy = True
        async with db.transaction() as session:
            await engine.retry(session, job_id, actor=OPERATOR)
        await eventually(
            lambda: _state(db, job_id, "succeeded"), message="success after the operator's retry"
        )
        assert len(runs) == 6
        async with db.transaction() as session:
            view = await engine.get(session, job_id)
        statuses = [line["status"] for line in view.log]
        assert statuses == ["retry"] * 4 + ["failed", "operator", "succeeded"]
        assert "retried by operator (staff:operator-1)" in view.log[5]["message"]
    finally:
        await worker.stop()


async def _state(db: Database, job_id: Any, state: str) -> bool:
    return (await job_row(db, job_id)).state == state


async def test_a_permanent_error_fails_at_once_without_retries(db: Database) -> None:
    engine = JobEngine(db, service="rtsvc", job_topic=job_topic("provisioning"))

    @engine.kind("strict", queue="q")
    async def strict(ctx: JobContext) -> None:
        await ctx.step("validate", _reject)

    async with db.transaction() as session:
        job_id = await engine.enqueue(session, "strict", {})
    worker = engine.worker(poll_interval=0.01)
    worker.start()
    try:
        await eventually(lambda: _state(db, job_id, "failed"), message="failed")
    finally:
        await worker.stop()
    row = await job_row(db, job_id)
    assert row.attempts == 1
    assert row.last_error == "domínio inválido / invalid domain: 'exa mple.com'"
    async with db.transaction() as session:
        view = await engine.get(session, job_id)
    assert [(line["step"], line["status"]) for line in view.log] == [
        ("validate", "started"),
        ("validate", "failed"),
        (None, "failed"),
    ]


async def _reject() -> None:
    raise PermanentError("domínio inválido / invalid domain: 'exa mple.com'")


async def test_completed_steps_are_skipped_on_retry(db: Database) -> None:
    engine = JobEngine(db, service="rtsvc", job_topic=job_topic("provisioning"))
    calls: Counter[str] = Counter()

    async def create() -> dict[str, str]:
        calls["create"] += 1
        return {"username": "exampleco"}

    async def mailbox() -> None:
        calls["mailbox"] += 1
        if calls["mailbox"] == 1:
            raise TimeoutError("mail server slow")

    @engine.kind("provision", queue="q", policy=RetryPolicy(base_delay=timedelta(milliseconds=10)))
    async def provision(ctx: JobContext) -> None:
        account = await ctx.step("create-account", create)
        assert account == {"username": "exampleco"}
        await ctx.step("create-mailbox", mailbox)

    async with db.transaction() as session:
        job_id = await engine.enqueue(session, "provision", {})
    worker = engine.worker(poll_interval=0.01)
    worker.start()
    try:
        await eventually(
            lambda: _state(db, job_id, "succeeded"), message="success on the second attempt"
        )
    finally:
        await worker.stop()
    assert calls == {"create": 1, "mailbox": 2}
    assert (await job_row(db, job_id)).steps_done == {
        "create-account": {"username": "exampleco"},
        "create-mailbox": None,
    }


async def test_jobs_of_one_key_run_in_order_behind_a_retry(db: Database) -> None:
    engine = JobEngine(db, service="rtsvc", job_topic=job_topic("provisioning"))
    ran: list[str] = []
    failed_once: set[str] = set()

    @engine.kind(
        "account", queue="q", policy=RetryPolicy(base_delay=timedelta(milliseconds=300), jitter=0)
    )
    async def account(ctx: JobContext) -> None:
        name = ctx.payload["name"]
        if name == "create" and name not in failed_once:
            failed_once.add(name)
            ran.append("create(failed)")
            raise ConnectionError("timeout")
        ran.append(name)

    async with db.transaction() as session:
        await engine.enqueue_many(
            session,
            [
                NewJob("account", {"name": "create"}, key="svc-1"),
                NewJob("account", {"name": "suspend"}, key="svc-1"),
                NewJob("account", {"name": "other-account"}, key="svc-2"),
                NewJob("account", {"name": "unsuspend"}, key="svc-1"),
            ],
        )
    worker = engine.worker(concurrency=4, poll_interval=0.01)
    worker.start()
    try:
        await eventually(lambda: len(ran) == 5, message="all jobs")
    finally:
        await worker.stop()
    assert ran.index("other-account") < ran.index("create")  # another key is not held up
    assert [r for r in ran if r != "other-account"] == [
        "create(failed)",
        "create",
        "suspend",
        "unsuspend",
    ]


async def test_a_target_never_runs_more_jobs_than_its_limit(db: Database) -> None:
    engine = JobEngine(db, service="rtsvc", job_topic=job_topic("provisioning"))
    engine.limit_target("whm-1", 2)
    running: Counter[str] = Counter()
    peak: Counter[str] = Counter()

    @engine.kind("call", queue="q")
    async def call(ctx: JobContext) -> None:
        target = ctx.payload["target"]
        running[target] += 1
        peak[target] = max(peak[target], running[target])
        await asyncio.sleep(0.05)
        running[target] -= 1

    async with db.transaction() as session:
        await engine.enqueue_many(
            session,
            [NewJob("call", {"target": "whm-1"}, target="whm-1") for _ in range(12)]
            + [NewJob("call", {"target": "whm-2"}, target="whm-2") for _ in range(6)],
        )
    workers = [engine.worker(concurrency=6, poll_interval=0.01) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:

        async def all_done() -> bool:
            async with db.transaction() as session:
                return (await engine.counts(session))["q"] == {"succeeded": 18}

        await eventually(all_done, message="18 jobs")
    finally:
        await asyncio.gather(*(w.stop() for w in workers))
    assert peak["whm-1"] == 2
    assert peak["whm-2"] > 2  # no limit set


async def test_enqueue_is_idempotent_by_dedupe_key(db: Database) -> None:
    engine = job_engine_for_tests(db)
    async with db.transaction() as session:
        first = await engine.enqueue(session, "record", {}, dedupe_key="msg-1")
        second = await engine.enqueue(session, "record", {}, dedupe_key="msg-1")
    assert first is not None and second is None
    async with db.transaction() as session:
        assert (await engine.counts(session)) == {"test": {"queued": 1}}
    with pytest.raises(PermanentError, match="unknown job kind"):
        async with db.transaction() as session:
            await engine.enqueue(session, "nope", {})


def _spawn(database_url: str, mode: str, *extra: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, str(WORKER_SCRIPT), database_url, mode, *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def _go(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()


async def test_two_worker_processes_never_run_the_same_job_twice(
    db: Database, database_url: str
) -> None:
    engine = job_engine_for_tests(db)
    async with db.transaction() as session:
        ids = await engine.enqueue_many(session, [NewJob("record", {"n": i}) for i in range(2000)])
    workers = [_spawn(database_url, "record") for _ in range(2)]
    _go(*workers)
    outputs = await asyncio.gather(
        *(asyncio.to_thread(p.communicate, timeout=120) for p in workers)
    )
    for process, (out, _) in zip(workers, outputs, strict=True):
        assert process.returncode == 0, out
    async with db.transaction() as session:
        executions = (await session.execute(sa.select(Execution.job_id, Execution.worker))).all()
        states = await engine.counts(session)
    per_job = Counter(job_id for job_id, _ in executions)
    assert set(per_job) == set(ids)
    assert max(per_job.values()) == 1
    assert states == {"test": {"succeeded": 2000}}
    by_worker = Counter(worker for _, worker in executions)
    assert len(by_worker) == 2, by_worker  # both processes took part


async def test_a_job_on_a_killed_worker_is_resumed(db: Database, database_url: str) -> None:
    engine = job_engine_for_tests(db, worker_label="survivor")
    async with db.transaction() as session:
        job_id = await engine.enqueue(session, "slow", {})
    doomed = _spawn(database_url, "slow", "60")
    _go(doomed)

    async def started() -> bool:
        async with db.transaction() as session:
            lines = (
                (await session.execute(sa.select(JobLog.status).where(JobLog.job_id == job_id)))
                .scalars()
                .all()
            )
        return "started" in lines

    try:
        await eventually(started, timeout=30, message="the doomed worker to start the job")
    finally:
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait()
    survivor = engine.worker(concurrency=1, poll_interval=0.05, lease=timedelta(seconds=5))
    survivor.start()
    try:
        await eventually(
            lambda: _state(db, job_id, "succeeded"), timeout=30, message="the job to be resumed"
        )
    finally:
        await survivor.stop()
    row = await job_row(db, job_id)
    assert row.attempts == 2
    async with db.transaction() as session:
        workers = (
            (await session.execute(sa.select(Execution.worker).where(Execution.job_id == job_id)))
            .scalars()
            .all()
        )
    assert workers == ["survivor"]


async def test_job_events_reach_kafka_through_the_outbox(
    db: Database, database_url: str, kafka_bootstrap: str
) -> None:
    from rtkit import audit_router

    from hospeda.runtime.service import ServiceRuntime

    runtime = ServiceRuntime(make_settings(database_url, kafka_bootstrap), router=audit_router())
    engine = job_engine_for_tests(runtime.db)
    runtime.jobs(engine, concurrency=2, poll_interval=0.02)
    await runtime.start()
    try:
        from opentelemetry import trace

        with trace.get_tracer("test").start_as_current_span("the request that asked for the job"):
            async with runtime.db.transaction() as session:
                job_id = await engine.enqueue(session, "record", {})
        records = await read_topic(kafka_bootstrap, job_topic("provisioning").name, expect=2)
    finally:
        await runtime.stop()
    envelopes = [decode(r.value) for r in records]
    assert [e.type for e in envelopes] == ["job.queued", "job.succeeded"]
    assert all(e.payload.job_id == job_id for e in envelopes)
    assert envelopes[0].correlation_id == envelopes[1].correlation_id
    assert {r.key for r in records} == {str(job_id).encode()}
    # the job's outcome continues the trace of whatever asked for it
    traces = {dict(r.headers)["traceparent"].decode().split("-")[1] for r in records}
    assert len(traces) == 1
