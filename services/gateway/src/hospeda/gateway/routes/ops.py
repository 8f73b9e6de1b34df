"""Operator routes: the pipeline probe (the platform's end-to-end self test)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, status

from hospeda.contracts import Actor, ActorKind, Envelope, new_id
from hospeda.contracts.ops import PipelineProbe
from hospeda.contracts.topics import BILLING_COMMANDS
from hospeda.runtime.broker import publish
from hospeda.runtime.errors import QueryFailed, QueryTimeout
from hospeda.runtime.probe import hop

router = APIRouter(tags=["ops"])


@router.post("/ops/probes", status_code=status.HTTP_202_ACCEPTED)
async def start_probe(request: Request) -> dict[str, Any]:
    """Send a probe through billing → provisioning → dns → notify."""
    probe_id = new_id()
    envelope = Envelope.of(
        PipelineProbe(probe_id=probe_id, hops=(hop("gateway"),)),
        actor=Actor(kind=ActorKind.SYSTEM, id="gateway"),
        ip=request.client.host if request.client else None,
    )
    await publish(
        request.app.state.runtime.producer, envelope, topic=BILLING_COMMANDS, key=probe_id
    )
    return {
        "probe_id": str(probe_id),
        "correlation_id": str(envelope.correlation_id),
        "status_url": f"/api/v1/ops/probes/{probe_id}",
    }


@router.get("/ops/probes/{probe_id}")
async def get_probe(probe_id: UUID, request: Request) -> dict[str, Any]:
    """A completed probe with the services it crossed, read back from notify."""
    try:
        result: dict[str, Any] = await request.app.state.queries.ask(
            "notify", "probe.get", {"probe_id": str(probe_id)}, actor=Actor.system("gateway")
        )
    except QueryTimeout as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    except QueryFailed as exc:
        code = status.HTTP_404_NOT_FOUND if exc.code == "not_found" else status.HTTP_502_BAD_GATEWAY
        raise HTTPException(code, exc.message) from None
    return result
