"""The pipeline probe: the platform's end-to-end self test.

The gateway sends a ``PipelineProbe`` to billing; billing, provisioning and
dns each add themselves to its hops (with the trace id they saw) and pass it
on; notify completes it. Audit records every hop like any other message.
"""

from __future__ import annotations

from typing import Any

from hospeda.contracts import Envelope, Topic, utcnow
from hospeda.contracts.ops import PipelineProbe, ProbeHop
from hospeda.runtime.messaging import MessageContext, MessageRouter, current_trace_id


def hop(service: str) -> ProbeHop:
    """This service's entry in a probe's hops."""
    return ProbeHop(service=service, at=utcnow(), trace_id=current_trace_id())


def forward_probes(router: MessageRouter, *, listen: Topic, forward_to: Topic) -> None:
    """Add this service to every probe arriving on ``listen`` and pass it to ``forward_to``."""

    @router.on(listen, PipelineProbe)
    async def forward(message: Envelope[Any], ctx: MessageContext) -> None:
        probe: PipelineProbe = message.payload
        ctx.emit(
            PipelineProbe(probe_id=probe.probe_id, hops=(*probe.hops, hop(router.service))),
            topic=forward_to,
            key=probe.probe_id,
        )
