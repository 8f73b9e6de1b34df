"""Durable jobs: retries with backoff, leases, per-key order, per-target limits.

A job is a row (``Job``) written in the same transaction as whatever asked
for it (usually a consumed command, so the inbox, the job and its
``job.queued`` event commit together). Workers in any number of processes
claim jobs in batches, run them, and commit their outcomes in batches:

- a failed attempt is retried later (exponential backoff with jitter, default
  5 attempts from 5 s); the retry waits in the database, so no Kafka
  partition is ever blocked;
- jobs that share a ``key`` run one at a time in the order they were queued:
  while an earlier job of the key is queued, retrying, running or failed,
  later ones wait behind it (cancel the failed one to release them);
- jobs that share a ``target`` (a WHM server, the Cloudflare account) run at
  most ``limit`` at a time across all workers;
- a claimed job carries a lease that its worker keeps renewing; a job whose
  worker died is claimed again when the lease runs out, and results from a
  worker that lost its lease are discarded (fencing by lease token);
- after the last attempt (or a ``PermanentError``) the job is ``failed``: it
  is dead-lettered with an event, an operator alert is raised, and an
  operator can ``retry`` it with a fresh set of attempts.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from opentelemetry import propagate, trace
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts import Actor, Envelope, Payload, Topic, new_id
from hospeda.contracts.jobs import (
    JobCancelled,
    JobDeadLettered,
    JobFailed,
    JobQueued,
    JobRetriedByOperator,
    JobRetryScheduled,
    JobStepFailed,
    JobStepStarted,
    JobStepSucceeded,
    JobSucceeded,
)
from hospeda.contracts.ops import OperatorAlertRaised, Severity
from hospeda.contracts.topics import OPS_ALERT
from hospeda.runtime import metrics, outbox
from hospeda.runtime.clock import Clock, SystemClock
from hospeda.runtime.db import Database, stable_lock_key
from hospeda.runtime.errors import NotFound, PermanentError
from hospeda.runtime.models import Job, JobLog
from hospeda.runtime.telemetry import correlated
from hospeda.runtime.types import UtcDateTime

log = logging.getLogger(__name__)
tracer = trace.get_tracer("hospeda.runtime.jobs")

_job = Job.__table__  # type: ignore[attr-defined]
_log = JobLog.__table__  # type: ignore[attr-defined]

BLOCKING_STATES = ("queued", "running", "failed")
"""States of an earlier job that make later jobs of the same key wait."""

UNFINISHED = sa.text("job.state IN ('queued', 'running')")
"""Written as a literal (not a bound parameter) so PostgreSQL can prove it
matches the partial index ``ix_job_ready`` and never scans finished jobs."""


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again: ``base_delay * factor**(attempt-1)``, capped, ± jitter."""

    max_attempts: int = 5
    base_delay: timedelta = timedelta(seconds=5)
    factor: float = 2.0
    max_delay: timedelta = timedelta(hours=1)
    jitter: float = 0.1

    def delay(self, attempt: int) -> timedelta:
        """Wait after failed attempt number ``attempt`` (1-based)."""
        raw = self.base_delay.total_seconds() * self.factor ** (attempt - 1)
        capped = min(raw, self.max_delay.total_seconds())
        spread = capped * self.jitter
        return timedelta(seconds=max(0.0, capped + random.uniform(-spread, spread)))


@dataclass(frozen=True)
class JobKind:
    """How one kind of job runs."""

    name: str
    queue: str
    handler: JobHandler
    policy: RetryPolicy
    on_failure: FailureHook | None = None


@dataclass
class ClaimedJob:
    """A job this worker holds a lease on."""

    seq: int
    id: UUID
    queue: str
    kind: str
    key: str | None
    target: str | None
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    steps_done: dict[str, Any]
    company_id: UUID | None
    correlation_id: UUID | None
    causation_id: UUID | None
    trace_context: dict[str, str]
    lease_token: UUID
    lease: timedelta = timedelta(seconds=30)  # how long one renewal holds it


@dataclass
class _Outcome:
    job: ClaimedJob
    error: BaseException | None = None
    permanent: bool = False
    emitted: list[tuple[Payload, Topic | str, str | UUID | None]] = field(default_factory=list)
    trace_context: dict[str, str] = field(default_factory=dict)
    """The attempt's own span: what it emits continues from there."""


JobHandler = Callable[["JobContext"], Awaitable[Any]]
FailureHook = Callable[[AsyncSession, ClaimedJob, str, "JobEngine"], Awaitable[None]]


class LeaseLost(Exception):
    """Another worker owns this job now (our lease ran out); stop working on it."""


class JobContext:
    """What a job handler gets: the job, named steps, and fenced transactions."""

    def __init__(self, engine: JobEngine, job: ClaimedJob, outcome: _Outcome) -> None:
        self.engine = engine
        self.job = job
        self._outcome = outcome

    @property
    def payload(self) -> dict[str, Any]:
        return self.job.payload

    @property
    def attempt(self) -> int:
        return self.job.attempt

    async def step(self, name: str, action: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``action`` as the named step, unless a previous attempt already
        completed it (then return what it returned). Each start, success and
        failure is logged and announced. ``action``'s result must be JSON."""
        if name in self.job.steps_done:
            return self.job.steps_done[name]
        await self._record(
            name,
            "started",
            f"{name}: started",
            JobStepStarted(**self._event_base(), step=name, attempt=self.attempt),
        )
        started = time.monotonic()
        try:
            result = await action()
        except LeaseLost:
            raise
        except Exception as exc:
            await self._record(
                name,
                "failed",
                f"{name}: {exc}",
                JobStepFailed(
                    **self._event_base(),
                    step=name,
                    attempt=self.attempt,
                    error=_describe(exc),
                    retryable=not isinstance(exc, PermanentError),
                ),
            )
            raise
        duration_ms = int((time.monotonic() - started) * 1000)
        self.job.steps_done[name] = result
        await self._record(
            name,
            "succeeded",
            f"{name}: done in {duration_ms} ms",
            JobStepSucceeded(
                **self._event_base(), step=name, attempt=self.attempt, duration_ms=duration_ms
            ),
            steps_done=self.job.steps_done,
        )
        return result

    async def note(self, message: str) -> None:
        """Add an informational line to the job's visible log."""
        await self._record(None, "info", message, None)

    def emit(self, payload: Payload, *, topic: Topic | str, key: str | UUID | None) -> None:
        """Publish ``payload`` if and when the job succeeds (same transaction
        as its success)."""
        self._outcome.emitted.append((payload, topic, key))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits only while this worker still holds the
        job's lease (raises ``LeaseLost`` otherwise)."""
        async with self.engine.db.transaction() as session:
            await self.engine._fence(session, self.job)
            yield session

    def envelope(self, payload: Payload) -> Envelope[Any]:
        """Wrap ``payload`` as a message caused by this job."""
        return self.engine._envelope(payload, self.job)

    def _event_base(self) -> dict[str, Any]:
        return {
            "job_id": self.job.id,
            "queue": self.job.queue,
            "kind": self.job.kind,
            "key": self.job.key,
        }

    async def _record(
        self,
        step: str | None,
        status: str,
        message: str,
        event: Payload | None,
        *,
        steps_done: dict[str, Any] | None = None,
    ) -> None:
        engine = self.engine
        async with engine.db.transaction() as session:
            await engine._fence(session, self.job, steps_done=steps_done)
            await session.execute(
                sa.insert(_log),
                [
                    {
                        "job_id": self.job.id,
                        "at": engine.clock.now(),
                        "attempt": self.attempt,
                        "step": step,
                        "status": status,
                        "message": message[:4000],
                    }
                ],
            )
            if event is not None and engine.emit_events:
                outbox.add(
                    session,
                    engine._envelope(event, self.job),
                    topic=engine.job_topic,
                    key=self.job.id,
                )


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, PermanentError) else f"{type(exc).__name__}: {text}"[:2000]


@dataclass(frozen=True)
class JobView:
    """A job as operators and customers see it."""

    id: UUID
    queue: str
    kind: str
    key: str | None
    state: str
    attempts: int
    max_attempts: int
    run_at: datetime
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    payload: dict[str, Any]
    log: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "queue": self.queue,
            "kind": self.kind,
            "key": self.key,
            "state": self.state,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "run_at": self.run_at.isoformat(),
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "payload": self.payload,
            "log": list(self.log),
        }


class JobEngine:
    """A service's jobs: register kinds, enqueue, operate, and run workers."""

    def __init__(
        self,
        db: Database,
        *,
        service: str,
        job_topic: Topic,
        clock: Clock | None = None,
        emit_events: bool = True,
    ) -> None:
        self.db = db
        self.service = service
        self.job_topic = job_topic
        self.clock: Clock = clock or SystemClock()
        self.emit_events = emit_events
        self.kinds: dict[str, JobKind] = {}
        self.target_limits: dict[str, int] = {}
        self.default_target_limit: int | None = None
        self.wakeup = asyncio.Event()
        db.after_commit(self._wake_if_enqueued)

    # --- declaring ---------------------------------------------------------------------

    def kind(
        self,
        name: str,
        *,
        queue: str,
        policy: RetryPolicy | None = None,
        on_failure: FailureHook | None = None,
    ) -> Callable[[JobHandler], JobHandler]:
        """Register the handler of a job kind."""

        def register(handler: JobHandler) -> JobHandler:
            if name in self.kinds:
                raise ValueError(f"job kind {name!r} already registered")
            self.kinds[name] = JobKind(name, queue, handler, policy or RetryPolicy(), on_failure)
            return handler

        return register

    def limit_target(self, target: str, limit: int) -> None:
        """Run at most ``limit`` jobs for ``target`` at once, across all workers."""
        self.target_limits[target] = limit

    def _limit_for(self, target: str) -> int | None:
        return self.target_limits.get(target, self.default_target_limit)

    # --- enqueueing ----------------------------------------------------------------------

    async def enqueue(
        self,
        session: AsyncSession,
        kind: str,
        payload: dict[str, Any],
        *,
        key: str | None = None,
        target: str | None = None,
        dedupe_key: str | None = None,
        cause: Envelope[Any] | None = None,
        company_id: UUID | None = None,
        run_at: datetime | None = None,
    ) -> UUID | None:
        """Queue one job in ``session``'s transaction. Returns its id, or None
        when a job with the same ``dedupe_key`` already exists."""
        ids = await self.enqueue_many(
            session,
            [
                NewJob(
                    kind,
                    payload,
                    key=key,
                    target=target,
                    dedupe_key=dedupe_key,
                    company_id=company_id,
                    run_at=run_at,
                )
            ],
            cause=cause,
        )
        return ids[0] if ids else None

    async def enqueue_many(
        self, session: AsyncSession, jobs: Sequence[NewJob], *, cause: Envelope[Any] | None = None
    ) -> list[UUID]:
        """Queue many jobs in one statement per thousand; returns the ids of
        the ones that were new."""
        now = self.clock.now()
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        rows: list[dict[str, Any]] = []
        for job in jobs:
            spec = self.kinds.get(job.kind)
            if spec is None:
                raise PermanentError(f"unknown job kind {job.kind!r}")
            rows.append(
                {
                    "id": new_id(),
                    "queue": spec.queue,
                    "kind": job.kind,
                    "key": job.key,
                    "target": job.target,
                    "dedupe_key": job.dedupe_key,
                    "state": JobState.QUEUED.value,
                    "payload": job.payload,
                    "attempts": 0,
                    "max_attempts": spec.policy.max_attempts,
                    "run_at": job.run_at or now,
                    "steps_done": {},
                    "company_id": job.company_id
                    if job.company_id is not None
                    else (cause.company_id if cause else None),
                    "correlation_id": cause.correlation_id if cause else new_id(),
                    "causation_id": cause.id if cause else None,
                    "trace_context": carrier,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        inserted: set[UUID] = set()
        insert = postgresql.insert if self.db.is_postgres else sqlite.insert
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            statement = insert(_job).values(chunk).on_conflict_do_nothing().returning(_job.c.id)
            inserted.update((await session.execute(statement)).scalars().all())
        new_rows = [row for row in rows if row["id"] in inserted]
        if self.emit_events:
            for row in new_rows:
                event = JobQueued(
                    job_id=row["id"],
                    queue=row["queue"],
                    kind=row["kind"],
                    key=row["key"],
                    max_attempts=row["max_attempts"],
                    run_at=row["run_at"],
                )
                outbox.add(
                    session,
                    self._envelope_from_row(event, row),
                    topic=self.job_topic,
                    key=row["id"],
                )
        if new_rows:
            session.info["hospeda.jobs.enqueued"] = True
        return [row["id"] for row in new_rows]

    def _wake_if_enqueued(self, session: AsyncSession) -> None:
        if session.info.pop("hospeda.jobs.enqueued", False):
            self.wakeup.set()

    # --- operating -------------------------------------------------------------------------

    async def retry(self, session: AsyncSession, job_id: UUID, *, actor: Actor) -> None:
        """Operator: send a failed job back to the queue with fresh attempts."""
        row = await self._locked_row(session, job_id)
        if row.state != JobState.FAILED:
            raise PermanentError(f"only failed jobs can be retried; job {job_id} is {row.state}")
        now = self.clock.now()
        await session.execute(
            sa.update(_job)
            .where(_job.c.seq == row.seq)
            .values(
                state=JobState.QUEUED.value,
                attempts=0,
                run_at=now,
                updated_at=now,
                finished_at=None,
            )
        )
        await self._operator_note(
            session,
            row,
            f"retried by operator ({actor.kind}:{actor.id})",
            JobRetriedByOperator(job_id=row.id, queue=row.queue, kind=row.kind, key=row.key),
            actor,
        )
        session.info["hospeda.jobs.enqueued"] = True

    async def cancel(
        self, session: AsyncSession, job_id: UUID, *, actor: Actor, reason: str | None = None
    ) -> None:
        """Operator: stop a job that is queued, waiting to retry, or failed."""
        row = await self._locked_row(session, job_id)
        if row.state not in (JobState.QUEUED, JobState.FAILED):
            raise PermanentError(
                f"only queued or failed jobs can be cancelled; job {job_id} is {row.state}"
            )
        now = self.clock.now()
        await session.execute(
            sa.update(_job)
            .where(_job.c.seq == row.seq)
            .values(state=JobState.CANCELLED.value, updated_at=now, finished_at=now)
        )
        await self._operator_note(
            session,
            row,
            f"cancelled by operator ({actor.kind}:{actor.id})" + (f": {reason}" if reason else ""),
            JobCancelled(job_id=row.id, queue=row.queue, kind=row.kind, key=row.key, reason=reason),
            actor,
        )
        session.info["hospeda.jobs.enqueued"] = True  # jobs waiting behind it may run now

    async def _locked_row(self, session: AsyncSession, job_id: UUID) -> Any:
        statement = sa.select(_job).where(_job.c.id == job_id)
        if self.db.is_postgres:
            statement = statement.with_for_update()
        row = (await session.execute(statement)).first()
        if row is None:
            raise NotFound(f"no job {job_id}")
        return row

    async def _operator_note(
        self, session: AsyncSession, row: Any, message: str, event: Payload, actor: Actor
    ) -> None:
        await session.execute(
            sa.insert(_log),
            [
                {
                    "job_id": row.id,
                    "at": self.clock.now(),
                    "attempt": row.attempts,
                    "step": None,
                    "status": "operator",
                    "message": message,
                }
            ],
        )
        envelope = Envelope.of(
            event, actor=actor, company_id=row.company_id, correlation_id=row.correlation_id
        )
        outbox.add(session, envelope, topic=self.job_topic, key=row.id)

    async def get(
        self, session: AsyncSession, job_id: UUID, *, company_id: UUID | None = None
    ) -> JobView:
        """One job with its log. With ``company_id``, another company's job is
        reported as not found."""
        statement = sa.select(_job).where(_job.c.id == job_id)
        if company_id is not None:
            statement = statement.where(_job.c.company_id == company_id)
        row = (await session.execute(statement)).first()
        if row is None:
            raise NotFound(f"no job {job_id}")
        lines = (
            await session.execute(
                sa.select(_log).where(_log.c.job_id == job_id).order_by(_log.c.id)
            )
        ).all()
        return _view(
            row,
            tuple(
                {
                    "at": line.at.isoformat(),
                    "attempt": line.attempt,
                    "step": line.step,
                    "status": line.status,
                    "message": line.message,
                }
                for line in lines
            ),
        )

    async def list(
        self,
        session: AsyncSession,
        *,
        state: str | None = None,
        queue: str | None = None,
        company_id: UUID | None = None,
        limit: int = 100,
        before_seq: int | None = None,
    ) -> list[JobView]:
        """Jobs, newest first, optionally filtered."""
        statement = sa.select(_job).order_by(_job.c.seq.desc()).limit(limit)
        if state:
            statement = statement.where(_job.c.state == state)
        if queue:
            statement = statement.where(_job.c.queue == queue)
        if company_id is not None:
            statement = statement.where(_job.c.company_id == company_id)
        if before_seq is not None:
            statement = statement.where(_job.c.seq < before_seq)
        return [_view(row) for row in (await session.execute(statement)).all()]

    async def has_unfinished(self, session: AsyncSession, queue: str) -> bool:
        """Whether any job of ``queue`` is queued, retrying or running (cheap: partial index)."""
        statement = sa.select(_job.c.seq).where(_job.c.queue == queue, UNFINISHED).limit(1)
        return (await session.execute(statement)).first() is not None

    async def counts(self, session: AsyncSession) -> dict[str, dict[str, int]]:
        """Jobs by queue and state (for metrics and the operator page)."""
        rows = (
            await session.execute(
                sa.select(_job.c.queue, _job.c.state, sa.func.count()).group_by(
                    _job.c.queue, _job.c.state
                )
            )
        ).all()
        counts: dict[str, dict[str, int]] = {}
        for queue, state, count in rows:
            counts.setdefault(queue, {})[state] = int(count)
        return counts

    async def prune(self, session: AsyncSession, *, older_than: timedelta) -> int:
        """Delete succeeded and cancelled jobs (and their logs) finished before the cutoff."""
        cutoff = self.clock.now() - older_than
        done = sa.select(_job.c.id).where(
            _job.c.state.in_([JobState.SUCCEEDED.value, JobState.CANCELLED.value]),
            _job.c.finished_at < cutoff,
        )
        await session.execute(sa.delete(_log).where(_log.c.job_id.in_(done)))
        result = await session.execute(
            sa.delete(_job).where(
                _job.c.state.in_([JobState.SUCCEEDED.value, JobState.CANCELLED.value]),
                _job.c.finished_at < cutoff,
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # --- internals shared with workers ----------------------------------------------------

    def emit(
        self,
        session: AsyncSession,
        job: ClaimedJob,
        payload: Payload,
        *,
        topic: Topic | str,
        key: str | UUID | None,
        trace_context: dict[str, str] | None = None,
    ) -> None:
        """Publish ``payload`` as caused by ``job``, in ``session``'s transaction,
        on the job's trace (its outcomes and ``on_failure`` hooks): under the
        attempt's span when given, else under what enqueued the job."""
        outbox.add(
            session,
            self._envelope(payload, job),
            topic=topic,
            key=key,
            trace_context=trace_context or job.trace_context,
        )

    def _envelope(self, payload: Payload, job: ClaimedJob) -> Envelope[Any]:
        return Envelope.of(
            payload,
            actor=Actor.system(self.service),
            company_id=job.company_id,
            correlation_id=job.correlation_id,
            causation_id=job.causation_id,
        )

    def _envelope_from_row(self, payload: Payload, row: dict[str, Any]) -> Envelope[Any]:
        return Envelope.of(
            payload,
            actor=Actor.system(self.service),
            company_id=row["company_id"],
            correlation_id=row["correlation_id"],
            causation_id=row["causation_id"],
        )

    async def _fence(
        self, session: AsyncSession, job: ClaimedJob, *, steps_done: dict[str, Any] | None = None
    ) -> None:
        # An expired lease is lost even before another worker takes the job: effects
        # committed after expiry could be committed again by the next holder. Passing
        # the fence renews the lease, so the outcome is recorded before anyone may claim.
        now = self.clock.now()
        values: dict[str, Any] = {"updated_at": now, "lease_until": now + job.lease}
        if steps_done is not None:
            values["steps_done"] = steps_done
        result = await session.execute(
            sa.update(_job)
            .where(
                _job.c.seq == job.seq,
                _job.c.lease_token == job.lease_token,
                _job.c.state == JobState.RUNNING.value,
                _job.c.lease_until >= now,
            )
            .values(**values)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise LeaseLost(f"job {job.id} is no longer ours")

    def worker(self, **options: Any) -> JobWorker:
        """A worker for this engine's queues (see ``JobWorker`` for options)."""
        return JobWorker(self, **options)


@dataclass(frozen=True)
class NewJob:
    """A job to enqueue with ``enqueue_many``."""

    kind: str
    payload: dict[str, Any]
    key: str | None = None
    target: str | None = None
    dedupe_key: str | None = None
    company_id: UUID | None = None
    run_at: datetime | None = None


def _view(row: Any, log_lines: tuple[dict[str, Any], ...] = ()) -> JobView:
    return JobView(
        id=row.id,
        queue=row.queue,
        kind=row.kind,
        key=row.key,
        state=row.state,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        run_at=row.run_at,
        last_error=row.last_error,
        created_at=row.created_at,
        finished_at=row.finished_at,
        payload=row.payload,
        log=log_lines,
    )


class JobWorker:
    """Claims jobs in batches, runs up to ``concurrency`` at once, and commits
    outcomes in batches together with the next claim.

    ``prefetch`` extra jobs may be claimed ahead of free slots (they hold a
    lease while they wait); keep it small for slow jobs.
    """

    def __init__(
        self,
        engine: JobEngine,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int = 10,
        prefetch: int = 0,
        lease: timedelta = timedelta(seconds=60),
        poll_interval: float = 0.25,
        worker_id: str | None = None,
    ) -> None:
        self.engine = engine
        self.db = engine.db
        self.queues = list(queues) if queues else sorted({k.queue for k in engine.kinds.values()})
        self.concurrency = concurrency
        self.prefetch = prefetch
        self.lease = lease
        self.poll_interval = poll_interval
        self.worker_id = worker_id or f"{engine.service}-{new_id().hex[:8]}"
        self._claim_lock_key = stable_lock_key(
            f"jobs-claim:{engine.service}:{','.join(self.queues)}"
        )
        self._build_claim_statements()
        self._ready: asyncio.Queue[ClaimedJob] = asyncio.Queue()
        self._inflight: dict[int, ClaimedJob] = {}
        self._done: list[_Outcome] = []
        self._progress = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self.completed = 0

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self._tasks:
            return
        self._stopping = False
        self._tasks = [asyncio.create_task(self._run_loop(), name=f"jobs-loop-{self.worker_id}")]
        self._tasks += [
            asyncio.create_task(self._runner(), name=f"jobs-runner-{i}")
            for i in range(self.concurrency)
        ]
        self._tasks.append(asyncio.create_task(self._renew_leases(), name="jobs-lease"))

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming, let running jobs finish (up to ``timeout``), commit
        their outcomes and hand unstarted claims back to the queue."""
        if not self._tasks:
            return
        self._stopping = True
        self._progress.set()
        loop_task, *others = self._tasks
        deadline = time.monotonic() + timeout
        while self._running_count() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        with suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(loop_task, max(1.0, deadline - time.monotonic()))
        await self._release_unstarted()
        self._tasks = []

    def _running_count(self) -> int:
        return len(self._inflight) - self._ready.qsize() - len(self._done)

    # --- the loop ------------------------------------------------------------------------

    async def _run_loop(self) -> None:
        failures = 0
        while True:
            outcomes, self._done = self._done, []
            # the outcomes about to be committed free their slots in the same transaction
            capacity = (
                0
                if self._stopping
                else self.concurrency + self.prefetch - len(self._inflight) + len(outcomes)
            )
            if not outcomes and capacity <= 0:
                if self._stopping:
                    return
                self._progress.clear()
                if not self._done:
                    await self._progress.wait()
                continue
            self._progress.clear()
            self.engine.wakeup.clear()
            try:
                claimed = await self._commit_and_claim(outcomes, capacity)
                failures = 0
            except Exception:
                failures += 1
                log.exception("job worker could not reach the database; retrying")
                self._done = outcomes + self._done
                await asyncio.sleep(min(0.2 * 2**failures, 10.0))
                continue
            for outcome in outcomes:
                self._inflight.pop(outcome.job.seq, None)
            self.completed += len(outcomes)
            for job in claimed:
                self._inflight[job.seq] = job
                self._ready.put_nowait(job)
            if self._stopping and not self._inflight:
                return
            if not claimed and not self._done:
                waiters = [
                    asyncio.ensure_future(self._progress.wait()),
                    asyncio.ensure_future(self.engine.wakeup.wait()),
                ]
                _done, pending = await asyncio.wait(
                    waiters, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED
                )
                for waiter in pending:
                    waiter.cancel()

    async def _runner(self) -> None:
        while True:
            job = await self._ready.get()
            outcome = await self._execute(job)
            self._done.append(outcome)
            self._progress.set()

    async def _execute(self, job: ClaimedJob) -> _Outcome:
        outcome = _Outcome(job)
        spec = self.engine.kinds.get(job.kind)
        parent = propagate.extract(job.trace_context)
        with (
            tracer.start_as_current_span(
                f"job {job.kind}",
                context=parent,
                kind=trace.SpanKind.CONSUMER,
                attributes={"hospeda.job.id": str(job.id), "hospeda.job.attempt": job.attempt},
            ) as span,
            correlated(job.correlation_id or job.id),
        ):
            propagate.inject(outcome.trace_context)
            if spec is None:
                outcome.error, outcome.permanent = (
                    PermanentError(f"no handler for job kind {job.kind!r}"),
                    True,
                )
                return outcome
            try:
                await spec.handler(JobContext(self.engine, job, outcome))
            except LeaseLost as exc:
                outcome.error = exc
            except PermanentError as exc:
                outcome.error, outcome.permanent = exc, True
            except Exception as exc:
                outcome.error = exc
                span.record_exception(exc)
            # one line per attempt, on the job's trace and correlation (logs ↔ traces)
            log.info(
                "job %s %s attempt %d: %s",
                job.kind,
                job.id,
                job.attempt,
                "done" if outcome.error is None else _describe(outcome.error),
            )
        return outcome

    # --- one transaction: outcomes, then the next claim --------------------------------

    async def _commit_and_claim(self, outcomes: list[_Outcome], capacity: int) -> list[ClaimedJob]:
        async with self.db.transaction() as session:
            if outcomes:
                await self._commit_outcomes(session, outcomes)
            if capacity > 0:
                return await self._claim(session, capacity)
        return []

    async def _claim(self, session: AsyncSession, capacity: int) -> list[ClaimedJob]:
        """Lease up to ``capacity`` runnable jobs. Without target limits this is
        one statement (``UPDATE … WHERE seq IN (SELECT … FOR UPDATE SKIP
        LOCKED)``); with them, claims are serialised so limits hold across workers."""
        engine = self.engine
        now = engine.clock.now()
        limited = bool(engine.target_limits) or engine.default_target_limit is not None
        token = new_id()
        params = {
            "b_now": now,
            "b_limit": capacity * 2 if limited else capacity,
            "b_token": token,
            "b_owner": self.worker_id,
            "b_lease_until": now + self.lease,
        }
        if limited:
            await self.db.advisory_xact_lock(session, self._claim_lock_key)
            in_use = await self._targets_in_use(session, now)
            # targets at their limit stay out of the window: a backlog on one
            # server must not keep another server's jobs from being claimed
            full = [
                t
                for t, n in in_use.items()
                if (cap := engine._limit_for(t)) is not None and n >= cap
            ]
            rows = (await session.execute(self._candidates, {**params, "b_full": full})).all()
            chosen = self._within_target_limits(rows, capacity, in_use)
            if not chosen:
                return []
            claimed = (
                await session.execute(self._lease_chosen, {**params, "b_chosen": chosen})
            ).all()
        else:
            claimed = (await session.execute(self._lease_next, params)).all()
        jobs = [
            ClaimedJob(
                seq=r.seq,
                id=r.id,
                queue=r.queue,
                kind=r.kind,
                key=r.key,
                target=r.target,
                payload=r.payload,
                attempt=r.attempts,
                max_attempts=r.max_attempts,
                steps_done=dict(r.steps_done or {}),
                company_id=r.company_id,
                correlation_id=r.correlation_id,
                causation_id=r.causation_id,
                trace_context=r.trace_context or {},
                lease_token=token,
                lease=self.lease,
            )
            for r in claimed
        ]
        jobs.sort(key=lambda j: j.seq)
        return jobs

    def _build_claim_statements(self) -> None:
        """Built once per worker (bound at execution): runnable jobs in queue
        order — due, or leased by a worker that stopped renewing — that do not
        wait behind an earlier job of their key; and the updates leasing them."""
        earlier = _job.alias("earlier")
        blocked = (
            sa.select(sa.literal(1))
            .where(
                earlier.c.queue == _job.c.queue,
                earlier.c.key == _job.c.key,
                earlier.c.seq < _job.c.seq,
                earlier.c.state.in_(BLOCKING_STATES),
            )
            .exists()
        )
        now = sa.bindparam("b_now", type_=UtcDateTime())
        candidates = (
            sa.select(_job.c.seq, _job.c.target)
            .where(
                _job.c.queue.in_(self.queues),
                UNFINISHED,
                sa.or_(
                    sa.and_(sa.text("job.state = 'queued'"), _job.c.run_at <= now),
                    sa.and_(sa.text("job.state = 'running'"), _job.c.lease_until < now),
                ),
                sa.or_(_job.c.key.is_(None), ~blocked),
            )
            .order_by(_job.c.seq)
            .limit(sa.bindparam("b_limit", type_=sa.Integer()))
        )
        if self.db.is_postgres:
            candidates = candidates.with_for_update(skip_locked=True, of=_job)
        lease = (
            sa.update(_job)
            .values(
                state=JobState.RUNNING.value,
                attempts=_job.c.attempts + 1,
                lease_owner=sa.bindparam("b_owner"),
                lease_token=sa.bindparam("b_token", type_=sa.Uuid()),
                lease_until=sa.bindparam("b_lease_until", type_=UtcDateTime()),
                updated_at=now,
            )
            .returning(
                _job.c.seq,
                _job.c.id,
                _job.c.queue,
                _job.c.kind,
                _job.c.key,
                _job.c.target,
                _job.c.payload,
                _job.c.attempts,
                _job.c.max_attempts,
                _job.c.steps_done,
                _job.c.company_id,
                _job.c.correlation_id,
                _job.c.causation_id,
                _job.c.trace_context,
            )
        )
        # with target limits: the same, leaving out targets already at their limit
        self._candidates = candidates.where(
            sa.or_(
                _job.c.target.is_(None),
                _job.c.target.not_in(sa.bindparam("b_full", expanding=True)),
            )
        )
        self._lease_next = lease.where(
            _job.c.seq.in_(candidates.with_only_columns(_job.c.seq).scalar_subquery())
        )
        self._lease_chosen = lease.where(_job.c.seq.in_(sa.bindparam("b_chosen", expanding=True)))

    async def _targets_in_use(self, session: AsyncSession, now: datetime) -> dict[str, int]:
        """Jobs running now on each target (a handful of rows: bounded by concurrency)."""
        usage = await session.execute(
            sa.select(_job.c.target, sa.func.count())
            .where(
                _job.c.state == JobState.RUNNING.value,
                _job.c.lease_until >= now,
                _job.c.target.is_not(None),
            )
            .group_by(_job.c.target)
        )
        return {target: int(count) for target, count in usage.all()}

    def _within_target_limits(
        self, rows: Sequence[Any], capacity: int, in_use: dict[str, int]
    ) -> list[int]:
        in_use = dict(in_use)
        chosen: list[int] = []
        for row in rows:
            if len(chosen) >= capacity:
                break
            limit = self.engine._limit_for(row.target) if row.target is not None else None
            if limit is not None:
                if in_use.get(row.target, 0) >= limit:
                    continue
                in_use[row.target] = in_use.get(row.target, 0) + 1
            chosen.append(row.seq)
        return chosen

    async def _commit_outcomes(self, session: AsyncSession, outcomes: list[_Outcome]) -> None:
        engine = self.engine
        now = engine.clock.now()
        cleared = {"lease_owner": None, "lease_token": None, "lease_until": None, "updated_at": now}
        # Fencing: only rows still leased to us (same token) change state.
        owned: set[int] = set()
        done = [o for o in outcomes if o.error is None]
        if done:
            if self.db.is_postgres:  # fixed text with two array parameters: prepared once
                result = await session.execute(
                    _SUCCEED_POSTGRES,
                    {
                        "now": now,
                        "seqs": [o.job.seq for o in done],
                        "tokens": [o.job.lease_token for o in done],
                    },
                )
            else:
                result = await session.execute(
                    sa.update(_job)
                    .where(
                        sa.tuple_(_job.c.seq, _job.c.lease_token).in_(
                            [(o.job.seq, o.job.lease_token) for o in done]
                        ),
                        sa.text("job.state = 'running'"),
                    )
                    .values(
                        state=JobState.SUCCEEDED.value, finished_at=now, last_error=None, **cleared
                    )
                    .returning(_job.c.seq)
                )
            owned.update(result.scalars())
        failed = [o for o in outcomes if o.error is not None and not isinstance(o.error, LeaseLost)]
        if failed:
            check = sa.select(_job.c.seq).where(
                sa.tuple_(_job.c.seq, _job.c.lease_token).in_(
                    [(o.job.seq, o.job.lease_token) for o in failed]
                ),
                sa.text("job.state = 'running'"),
            )
            if self.db.is_postgres:
                check = check.with_for_update()
            owned.update((await session.execute(check)).scalars())
        succeeded: list[_Outcome] = []
        retries: list[tuple[_Outcome, datetime]] = []
        failures: list[_Outcome] = []
        for outcome in outcomes:
            if outcome.job.seq not in owned:
                log.warning("discarding the result of job %s: lease lost", outcome.job.id)
                continue
            if outcome.error is None:
                succeeded.append(outcome)
                continue
            spec = engine.kinds.get(outcome.job.kind)
            policy = spec.policy if spec else RetryPolicy()
            if outcome.permanent or outcome.job.attempt >= outcome.job.max_attempts:
                failures.append(outcome)
            else:
                retries.append((outcome, now + policy.delay(outcome.job.attempt)))

        log_rows: list[dict[str, Any]] = []
        for outcome in succeeded:
            job = outcome.job
            log_rows.append(_log_row(job, now, "succeeded", f"succeeded on attempt {job.attempt}"))
            for payload, topic, key in outcome.emitted:
                engine.emit(
                    session, job, payload, topic=topic, key=key, trace_context=outcome.trace_context
                )
            if engine.emit_events:
                event = JobSucceeded(
                    job_id=job.id, queue=job.queue, kind=job.kind, key=job.key, attempts=job.attempt
                )
                engine.emit(session, job, event, topic=engine.job_topic, key=job.id)
        if retries:
            await session.execute(
                sa.update(_job)
                .where(_job.c.seq == sa.bindparam("b_seq"))
                .values(
                    state=JobState.QUEUED.value,
                    run_at=sa.bindparam("b_run_at"),
                    last_error=sa.bindparam("b_error"),
                    **cleared,
                ),
                [
                    {"b_seq": o.job.seq, "b_run_at": at, "b_error": _describe(o.error)}
                    for o, at in retries
                ],
            )
        for outcome, at in retries:
            job, error = outcome.job, _describe(outcome.error)
            metrics.JOB_RETRIES.labels(engine.service, job.kind).inc()
            wait = (at - now).total_seconds()
            log_rows.append(
                _log_row(
                    job,
                    now,
                    "retry",
                    f"attempt {job.attempt} failed: {error}; retrying in {wait:.1f}s",
                )
            )
            if engine.emit_events:
                retry_event = JobRetryScheduled(
                    job_id=job.id,
                    queue=job.queue,
                    kind=job.kind,
                    key=job.key,
                    attempt=job.attempt,
                    next_attempt_at=at,
                    error=error,
                )
                engine.emit(session, job, retry_event, topic=engine.job_topic, key=job.id)
        if failures:
            await session.execute(
                sa.update(_job)
                .where(_job.c.seq == sa.bindparam("b_seq"))
                .values(
                    state=JobState.FAILED.value,
                    finished_at=now,
                    last_error=sa.bindparam("b_error"),
                    **cleared,
                ),
                [{"b_seq": o.job.seq, "b_error": _describe(o.error)} for o in failures],
            )
        for outcome in failures:
            metrics.JOBS_FAILED.labels(engine.service, outcome.job.kind).inc()
            await self._dead_letter(session, outcome, now, log_rows)
        if log_rows:
            await session.execute(sa.insert(_log), log_rows)

    async def _dead_letter(
        self,
        session: AsyncSession,
        outcome: _Outcome,
        now: datetime,
        log_rows: list[dict[str, Any]],
    ) -> None:
        engine, job = self.engine, outcome.job
        error = _describe(outcome.error)
        why = "permanent error" if outcome.permanent else f"gave up after {job.attempt} attempts"
        log_rows.append(_log_row(job, now, "failed", f"failed ({why}): {error}"))
        base = {"job_id": job.id, "queue": job.queue, "kind": job.kind, "key": job.key}
        engine.emit(
            session,
            job,
            JobFailed(**base, attempts=job.attempt, error=error),
            topic=engine.job_topic,
            key=job.id,
        )
        engine.emit(
            session,
            job,
            JobDeadLettered(**base, attempts=job.attempt, error=error, payload=job.payload),
            topic=engine.job_topic.dlq,
            key=job.id,
        )
        alert = OperatorAlertRaised(
            alert_id=new_id(),
            severity=Severity.CRITICAL,
            source=engine.service,
            summary=f"Job {job.kind} falhou / failed: {error}"[:500],
            details={
                "job_id": str(job.id),
                "queue": job.queue,
                "kind": job.kind,
                "key": job.key,
                "attempts": job.attempt,
            },
        )
        engine.emit(session, job, alert, topic=OPS_ALERT, key=engine.service)
        spec = engine.kinds.get(job.kind)
        if spec is not None and spec.on_failure is not None:
            await spec.on_failure(session, job, error, engine)

    # --- leases ------------------------------------------------------------------------------

    async def _renew_leases(self) -> None:
        interval = max(self.lease.total_seconds() / 3, 0.05)
        # On PostgreSQL the renewals have a connection of their own: queued behind
        # the jobs' transactions in a busy pool, a lease could run out while its
        # job's effects are committed and its outcome is not yet, and another
        # worker would then run the job again.
        keeper = (
            create_async_engine(self.db.url, pool_size=1, max_overflow=0)
            if self.db.is_postgres
            else self.db.engine
        )
        try:
            while True:
                await asyncio.sleep(interval)
                held = list(self._inflight.values())
                if not held:
                    continue
                try:
                    async with keeper.begin() as connection:
                        await connection.execute(
                            sa.update(_job)
                            .where(
                                _job.c.seq.in_([j.seq for j in held]),
                                _job.c.lease_owner == self.worker_id,
                            )
                            .values(lease_until=self.engine.clock.now() + self.lease)
                        )
                except Exception:
                    log.exception("could not renew job leases")
        finally:
            if keeper is not self.db.engine:
                await keeper.dispose()

    async def _release_unstarted(self) -> None:
        unstarted: list[ClaimedJob] = []
        while not self._ready.empty():
            unstarted.append(self._ready.get_nowait())
        if not unstarted:
            return
        async with self.db.transaction() as session:
            await session.execute(
                sa.update(_job)
                .where(
                    _job.c.seq.in_([j.seq for j in unstarted]),
                    _job.c.lease_token.in_({j.lease_token for j in unstarted}),
                )
                .values(
                    state=JobState.QUEUED.value,
                    attempts=_job.c.attempts - 1,
                    lease_owner=None,
                    lease_token=None,
                    lease_until=None,
                )
            )
        for job in unstarted:
            self._inflight.pop(job.seq, None)


_SUCCEED_POSTGRES = sa.text(
    "UPDATE job SET state = 'succeeded', finished_at = :now, updated_at = :now, last_error = NULL, "
    "lease_owner = NULL, lease_token = NULL, lease_until = NULL "
    "FROM unnest(CAST(:seqs AS bigint[]), CAST(:tokens AS uuid[])) AS done(seq, token) "
    "WHERE job.seq = done.seq AND job.lease_token = done.token AND job.state = 'running' "
    "RETURNING job.seq"
).bindparams(sa.bindparam("now", type_=UtcDateTime()))


def _log_row(job: ClaimedJob, at: datetime, status: str, message: str) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "at": at,
        "attempt": job.attempt,
        "step": None,
        "status": status,
        "message": message[:4000],
    }
