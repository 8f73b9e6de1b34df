"""The pipeline probe: the platform's end-to-end self test."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field

from hospeda.contracts.ops import ProbeHop
from hospeda.gateway.schemas.common import example

EXAMPLE_PROBE = "0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a80"


class ProbeStarted(BaseModel):
    model_config = example(
        probe_id=EXAMPLE_PROBE,
        correlation_id="0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a81",
        status_url=f"/api/v1/ops/probes/{EXAMPLE_PROBE}",
    )

    probe_id: UUID
    correlation_id: UUID = Field(description="Shared by every message the probe causes.")
    status_url: str = Field(description="Poll it until the probe has crossed every service.")


class ProbeResult(BaseModel):
    """A completed probe, as notify (its last hop) recorded it. Typed here until
    the runtime's query layer (issue 10) gives notify's `probe.get` its result model."""

    model_config = example(
        probe_id=EXAMPLE_PROBE,
        correlation_id="0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a81",
        hops=[{"service": "gateway", "at": "2026-11-29T12:00:00Z", "trace_id": None}],
        completed_at="2026-11-29T12:00:01+00:00",
    )

    probe_id: UUID
    correlation_id: UUID
    hops: list[ProbeHop] = Field(description="The services it crossed, in order.")
    completed_at: str = Field(description="When notify completed it (ISO 8601, UTC).")
