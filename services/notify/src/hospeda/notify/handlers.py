"""What the notify service consumes: message in → one service call."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from hospeda.contracts import Envelope, utcnow
from hospeda.contracts.ops import PipelineProbe, PipelineProbeCompleted
from hospeda.contracts.topics import NOTIFY_COMMANDS, OPS_PROBE
from hospeda.notify.models import CompletedProbe
from hospeda.runtime.errors import NotFound, PermanentError
from hospeda.runtime.messaging import MessageContext, MessageRouter, QueryContext
from hospeda.runtime.probe import hop


def build_router() -> MessageRouter:
    router = MessageRouter("notify")

    @router.on(NOTIFY_COMMANDS, PipelineProbe)
    async def complete_probe(message: Envelope[Any], ctx: MessageContext) -> None:
        probe: PipelineProbe = message.payload
        hops = (*probe.hops, hop("notify"))
        ctx.session.add(
            CompletedProbe(
                probe_id=probe.probe_id,
                correlation_id=message.correlation_id,
                hops=[h.model_dump(mode="json") for h in hops],
                completed_at=utcnow(),
            )
        )
        ctx.emit(
            PipelineProbeCompleted(probe_id=probe.probe_id, hops=hops),
            topic=OPS_PROBE,
            key=probe.probe_id,
        )

    @router.query("probe.get")
    async def get_probe(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        try:
            probe_id = UUID(str(params.get("probe_id")))
        except ValueError:
            raise PermanentError("probe_id must be a UUID") from None
        probe = await ctx.session.get(CompletedProbe, probe_id)
        if probe is None:
            raise NotFound("sonda não concluída / probe not completed (yet)")
        return {
            "probe_id": str(probe.probe_id),
            "correlation_id": str(probe.correlation_id),
            "hops": probe.hops,
            "completed_at": probe.completed_at.isoformat(),
        }

    return router
