"""Job lifecycle events and operator commands, shared by every service that runs
durable jobs (provisioning, DNS, notify).

Events go to ``<service>.job.v1`` keyed by job id, so one job's events stay in
order; jobs that exhaust their attempts also go to ``<service>.job.v1.dlq``.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from pydantic import Field

from hospeda.contracts.envelope import Payload, UtcDatetime


class JobEvent(Payload):
    """Fields every job event carries."""

    job_id: UUID
    queue: str = Field(description="`provision`, `dns`, `email` …")
    kind: str = Field(description="What the job does, e.g. `create-account`.")
    key: str | None = Field(
        default=None, description="Ordering key: jobs with one key run in order."
    )


class JobQueued(JobEvent):
    """A job was accepted and will run."""

    TYPE: ClassVar[str] = "job.queued"
    max_attempts: int = Field(ge=1)
    run_at: UtcDatetime


class JobStepStarted(JobEvent):
    """A named step of a job started."""

    TYPE: ClassVar[str] = "job.step_started"
    step: str
    attempt: int = Field(ge=1)


class JobStepSucceeded(JobEvent):
    """A named step of a job finished well; a retry will skip it."""

    TYPE: ClassVar[str] = "job.step_succeeded"
    step: str
    attempt: int = Field(ge=1)
    duration_ms: int = Field(ge=0)


class JobStepFailed(JobEvent):
    """A named step of a job failed."""

    TYPE: ClassVar[str] = "job.step_failed"
    step: str
    attempt: int = Field(ge=1)
    error: str
    retryable: bool


class JobRetryScheduled(JobEvent):
    """A failed attempt will be retried at ``next_attempt_at``."""

    TYPE: ClassVar[str] = "job.retry_scheduled"
    attempt: int = Field(ge=1)
    next_attempt_at: UtcDatetime
    error: str


class JobSucceeded(JobEvent):
    """Every step of the job succeeded."""

    TYPE: ClassVar[str] = "job.succeeded"
    attempts: int = Field(ge=1)


class JobFailed(JobEvent):
    """The job gave up: a permanent error, or its last attempt failed."""

    TYPE: ClassVar[str] = "job.failed"
    attempts: int = Field(ge=0)
    error: str


class JobDeadLettered(JobEvent):
    """A failed job, with everything an operator needs to retry it."""

    TYPE: ClassVar[str] = "job.dead_lettered"
    attempts: int = Field(ge=0)
    error: str
    payload: dict[str, Any]


class JobRetriedByOperator(JobEvent):
    """An operator sent a failed job back to the queue with a fresh set of attempts."""

    TYPE: ClassVar[str] = "job.retried_by_operator"


class JobCancelled(JobEvent):
    """An operator cancelled a job that had not finished."""

    TYPE: ClassVar[str] = "job.cancelled"
    reason: str | None = None


class RetryJob(Payload):
    """Operator command: run a failed job again. Key: job id."""

    TYPE: ClassVar[str] = "job.retry"
    job_id: UUID


class CancelJob(Payload):
    """Operator command: stop a queued, retrying or failed job. Key: job id."""

    TYPE: ClassVar[str] = "job.cancel"
    job_id: UUID
    reason: str | None = Field(default=None, max_length=500)


JOB_EVENTS: tuple[type[JobEvent], ...] = (
    JobQueued,
    JobStepStarted,
    JobStepSucceeded,
    JobStepFailed,
    JobRetryScheduled,
    JobSucceeded,
    JobFailed,
    JobDeadLettered,
    JobRetriedByOperator,
    JobCancelled,
)
JOB_COMMANDS: tuple[type[Payload], ...] = (RetryJob, CancelJob)
