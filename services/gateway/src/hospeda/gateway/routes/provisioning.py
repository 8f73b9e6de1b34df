"""Hosting services and their jobs — owned by the provisioning service.

Operators (staff acting on the company) retry or cancel a job, and suspend a
service or lift its suspension (abuse, malware), with a reason; the job or
service is first confirmed to belong to that company. Ending a service or
changing its plan goes through billing (the subscription), which tells
provisioning.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from hospeda.contracts.jobs import CancelJob, RetryJob
from hospeda.contracts.provisioning import SuspendAccount, UnsuspendAccount
from hospeda.contracts.topics import PROVISIONING_COMMANDS
from hospeda.gateway.api import DEFAULT_LIMIT, MAX_LIMIT, ApiRoute, allow
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import ForwardDep
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import documented
from hospeda.gateway.schemas.common import Accepted
from hospeda.gateway.schemas.provisioning import (
    Job,
    JobCancelIn,
    Jobs,
    Service,
    ServiceActionIn,
    Services,
)

router = APIRouter(tags=["provisioning"], route_class=ApiRoute)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500)]
State = Annotated[str | None, Query(max_length=30, pattern=r"^[a-z_]+$")]
READ = documented(401, 403, 422, 503)
ONE = documented(401, 403, 404, 422, 503)
SERVICE = "provisioning"


@router.get("/services", responses=READ, summary="Serviços de hospedagem / Hosting services")
async def list_services(
    ctx: Annotated[RequestContext, allow(P.SERVICES_READ)],
    forward: ForwardDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    status: State = None,
) -> Services:
    return await forward.page(
        ctx, SERVICE, "services.list", limit=limit, cursor=cursor, status=status
    )


@router.get("/services/{service_id}", responses=ONE, summary="Um serviço / A service")
async def get_service(
    service_id: UUID, ctx: Annotated[RequestContext, allow(P.SERVICES_READ)], forward: ForwardDep
) -> Service:
    return await forward.get(ctx, SERVICE, "services.get", service_id=service_id)


@router.post(
    "/services/{service_id}/suspend",
    status_code=status.HTTP_202_ACCEPTED,
    responses=ONE,
    summary="Suspender (operador) / Suspend (operator)",
)
async def suspend_service(
    service_id: UUID,
    body: ServiceActionIn,
    ctx: Annotated[RequestContext, allow(P.SERVICES_OPERATE)],
    forward: ForwardDep,
) -> Accepted:
    """The site stops serving until the suspension is lifted (billing's unpaid
    invoices suspend and lift on their own; this is for abuse, malware…)."""
    service = await forward.get(ctx, SERVICE, "services.get", service_id=service_id)
    return await forward.command(
        ctx,
        SuspendAccount(service_id=service_id, reason=body.reason),
        topic=PROVISIONING_COMMANDS,
        key=service_id,
        action="service.suspend",
        entity="service",
        entity_id=service_id,
        before={"state": service.get("state")},
    )


@router.post(
    "/services/{service_id}/unsuspend",
    status_code=status.HTTP_202_ACCEPTED,
    responses=ONE,
    summary="Reativar (operador) / Unsuspend (operator)",
)
async def unsuspend_service(
    service_id: UUID,
    body: ServiceActionIn,
    ctx: Annotated[RequestContext, allow(P.SERVICES_OPERATE)],
    forward: ForwardDep,
) -> Accepted:
    service = await forward.get(ctx, SERVICE, "services.get", service_id=service_id)
    return await forward.command(
        ctx,
        UnsuspendAccount(service_id=service_id),
        topic=PROVISIONING_COMMANDS,
        key=service_id,
        action="service.unsuspend",
        entity="service",
        entity_id=service_id,
        before={"state": service.get("state")},
        after={"reason": body.reason},
    )


@router.get("/jobs", responses=READ, summary="Tarefas de provisionamento / Provisioning jobs")
async def list_jobs(
    ctx: Annotated[RequestContext, allow(P.JOBS_READ)],
    forward: ForwardDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    state: State = None,
) -> Jobs:
    return await forward.page(ctx, SERVICE, "jobs.list", limit=limit, cursor=cursor, state=state)


@router.get("/jobs/{job_id}", responses=ONE, summary="Uma tarefa / A job")
async def get_job(
    job_id: UUID, ctx: Annotated[RequestContext, allow(P.JOBS_READ)], forward: ForwardDep
) -> Job:
    return await forward.get(ctx, SERVICE, "jobs.get", job_id=job_id)


@router.post(
    "/jobs/{job_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    responses=ONE,
    summary="Tentar de novo (operador) / Retry (operator)",
)
async def retry_job(
    job_id: UUID, ctx: Annotated[RequestContext, allow(P.JOBS_OPERATE)], forward: ForwardDep
) -> Accepted:
    job = await forward.get(ctx, SERVICE, "jobs.get", job_id=job_id)
    return await forward.command(
        ctx,
        RetryJob(job_id=job_id),
        topic=PROVISIONING_COMMANDS,
        key=job_id,
        action="job.retry",
        entity="job",
        entity_id=job_id,
        before={"state": job.get("state")},
    )


@router.post(
    "/jobs/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    responses=ONE,
    summary="Cancelar (operador) / Cancel (operator)",
)
async def cancel_job(
    job_id: UUID,
    body: JobCancelIn,
    ctx: Annotated[RequestContext, allow(P.JOBS_OPERATE)],
    forward: ForwardDep,
) -> Accepted:
    job = await forward.get(ctx, SERVICE, "jobs.get", job_id=job_id)
    return await forward.command(
        ctx,
        CancelJob(job_id=job_id, reason=body.reason),
        topic=PROVISIONING_COMMANDS,
        key=job_id,
        action="job.cancel",
        entity="job",
        entity_id=job_id,
        before={"state": job.get("state")},
    )
