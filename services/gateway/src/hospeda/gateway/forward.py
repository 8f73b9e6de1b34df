"""Reaching the services that own the data.

Queries go by request/reply over Kafka with the active company in the
envelope (never as a parameter) and a bounded wait: no answer in time is a
503, another company's id is a 404 exactly like a missing one. Commands go
to the owning service's topic through the outbox, together with their audit
record, and are answered 202 with the command's correlation id as the
operation id. ``Forwarder`` owns the transaction of each command it sends.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from hospeda.contracts import Actor, ActorKind, Payload, Topic, new_id
from hospeda.contracts.ops import PipelineProbe
from hospeda.contracts.topics import BILLING_COMMANDS
from hospeda.gateway.context import RequestContext
from hospeda.gateway.operations import Operations
from hospeda.gateway.outgoing import Origin, audit, send
from hospeda.gateway.problems import ApiError, not_found
from hospeda.gateway.schemas.common import Accepted, Page
from hospeda.gateway.schemas.ops import ProbeResult, ProbeStarted
from hospeda.runtime.db import Database
from hospeda.runtime.errors import QueryFailed, QueryTimeout
from hospeda.runtime.probe import hop
from hospeda.runtime.rpc import QueryClient

RETRY_AFTER_S = "5"


def _unavailable(service: str, retry_after: str = RETRY_AFTER_S) -> ApiError:
    return ApiError(
        "service_unavailable", 503, headers={"Retry-After": retry_after}, service=service
    )


class Forwarder:
    """Queries and commands to the other services, on behalf of a request."""

    def __init__(self, *, db: Database, queries: QueryClient, operations: Operations) -> None:
        self.db = db
        self.queries = queries
        self.operations = operations

    # --- queries ------------------------------------------------------------------------

    async def ask(
        self,
        ctx: RequestContext,
        service: str,
        name: str,
        params: dict[str, Any],
        *,
        platform: bool = False,
        timeout: float | None = None,
    ) -> Any:
        """Ask ``service`` for data in the active company (``platform``: staff asking
        across companies, no company); map failures to problems. ``timeout``: for
        the rare query that is long work (the audit log's verification)."""
        try:
            return await self.queries.ask(
                service,
                name,
                params,
                actor=ctx.origin.actor,
                company_id=None if platform else ctx.company_id,
                ip=ctx.origin.ip,
                timeout=timeout,
            )
        except QueryTimeout:
            raise _unavailable(service) from None
        except QueryFailed as exc:
            if exc.code in ("not_found", "forbidden"):
                raise not_found() from None
            if exc.code == "invalid":
                raise ApiError("invalid", 422, message=exc.message) from None
            if exc.code == "unknown_query":  # the service does not offer it (yet)
                raise _unavailable(service) from None
            raise ApiError("bad_gateway", 502, service=service) from None

    async def page(
        self,
        ctx: RequestContext,
        service: str,
        name: str,
        *,
        limit: int,
        cursor: str | None,
        platform: bool = False,
        **filters: Any,
    ) -> Page[Any]:
        params = {
            "limit": limit,
            "cursor": cursor,
            **{k: v for k, v in filters.items() if v is not None},
        }
        answer = await self.ask(ctx, service, name, params, platform=platform)
        if isinstance(answer, list):  # tolerate services that answer a bare list
            return Page[Any](items=answer, next_cursor=None)
        if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
            raise ApiError("bad_gateway", 502, service=service)
        return Page[Any](items=answer["items"], next_cursor=answer.get("next_cursor"))

    async def get(
        self, ctx: RequestContext, service: str, name: str, *, platform: bool = False, **params: Any
    ) -> dict[str, Any]:
        params = {k: str(v) for k, v in params.items()}
        answer = await self.ask(ctx, service, name, params, platform=platform)
        if not isinstance(answer, dict):
            raise not_found()
        return answer

    # --- commands -----------------------------------------------------------------------

    async def command(
        self,
        ctx: RequestContext,
        payload: Payload,
        *,
        topic: Topic,
        key: str | UUID | None,
        action: str,
        entity: str,
        entity_id: str | UUID | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> Accepted:
        """Send ``payload`` to its service (outbox) with its audit record; 202.
        The record's ``after`` is the payload unless given (when the payload
        carries what must not be kept, e.g. an unsubscribe token)."""
        async with self.db.transaction() as db:
            envelope = send(db, ctx.origin, payload, topic=topic, key=key)
            # before the commit, so the operation exists before any of its events can
            # (if the commit fails, nobody ever learns this operation id)
            resource_id = str(entity_id) if entity_id is not None else None
            await self.operations.accepted(envelope, resource_id=resource_id)
            audit(
                db,
                ctx.origin,
                action,
                entity,
                entity_id,
                before=before,
                after=after if after is not None else payload.model_dump(mode="json"),
            )
        return Accepted(operation_id=envelope.correlation_id, resource_id=resource_id)

    # --- the pipeline probe -------------------------------------------------------------

    async def start_probe(self, origin: Origin) -> ProbeStarted:
        """Send a probe through billing → provisioning → dns → notify."""
        probe_id = new_id()
        origin.actor = Actor(kind=ActorKind.SYSTEM, id="gateway")
        async with self.db.transaction() as db:
            envelope = send(
                db,
                origin,
                PipelineProbe(probe_id=probe_id, hops=(hop("gateway"),)),
                topic=BILLING_COMMANDS,
                key=probe_id,
            )
            audit(db, origin, "ops.probe_started", "probe", probe_id)
        return ProbeStarted(
            probe_id=probe_id,
            correlation_id=envelope.correlation_id,
            status_url=f"/api/v1/ops/probes/{probe_id}",
        )

    async def probe(self, probe_id: UUID) -> ProbeResult:
        """A completed probe with the services it crossed, read back from notify."""
        try:
            result = await self.queries.ask(
                "notify", "probe.get", {"probe_id": str(probe_id)}, actor=Actor.system("gateway")
            )
        except QueryTimeout:
            raise _unavailable("notify", retry_after="1") from None
        except QueryFailed as exc:
            if exc.code == "not_found":
                raise ApiError("probe_pending", 404, text=exc.message) from None
            raise ApiError("bad_gateway", 502, service="notify") from None
        return ProbeResult.model_validate(result)
