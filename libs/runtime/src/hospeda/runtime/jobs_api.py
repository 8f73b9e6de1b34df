"""The standard operator surface of a service's jobs: the ``job.retry`` and
``job.cancel`` commands on its commands topic, and the ``jobs.*`` queries."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from hospeda.contracts import Envelope, Topic
from hospeda.contracts.jobs import CancelJob, RetryJob
from hospeda.runtime.errors import PermanentError
from hospeda.runtime.jobs import JobEngine
from hospeda.runtime.messaging import MessageContext, MessageRouter, QueryContext


def expose_jobs(router: MessageRouter, engine: JobEngine, *, commands: Topic) -> None:
    """Let operators retry and cancel ``engine``'s jobs and read them.

    Queries from a company's users see only that company's jobs."""

    @router.on(commands, RetryJob)
    async def retry(message: Envelope[Any], ctx: MessageContext) -> None:
        await engine.retry(ctx.session, message.payload.job_id, actor=message.actor)

    @router.on(commands, CancelJob)
    async def cancel(message: Envelope[Any], ctx: MessageContext) -> None:
        await engine.cancel(
            ctx.session, message.payload.job_id, actor=message.actor, reason=message.payload.reason
        )

    @router.query("jobs.get")
    async def get(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        view = await engine.get(ctx.session, _uuid(params.get("job_id")), company_id=ctx.company_id)
        return view.as_dict()

    @router.query("jobs.list")
    async def list_jobs(params: dict[str, Any], ctx: QueryContext) -> list[dict[str, Any]]:
        views = await engine.list(
            ctx.session,
            state=params.get("state"),
            queue=params.get("queue"),
            company_id=ctx.company_id,
            limit=max(1, min(int(params.get("limit", 50)), 500)),
        )
        return [view.as_dict() for view in views]

    @router.query("jobs.counts")
    async def counts(params: dict[str, Any], ctx: QueryContext) -> dict[str, dict[str, int]]:
        return await engine.counts(ctx.session)


def _uuid(value: Any) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise PermanentError(f"job_id must be a UUID, not {value!r}") from None
