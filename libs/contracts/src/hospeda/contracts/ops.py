"""Operator-facing messages: alerts that need a person, and pipeline probes."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from pydantic import Field

from hospeda.contracts.envelope import Contract, Payload, UtcDatetime


class Severity(StrEnum):
    """How urgently an operator should look."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class OperatorAlertRaised(Payload):
    """Something needs an operator (a job dead-lettered, a delegation lost …).
    Key: source."""

    TYPE: ClassVar[str] = "ops.alert.raised"
    alert_id: UUID
    severity: Severity
    source: str = Field(description="The service that raised it.")
    summary: str
    details: dict[str, Any] = Field(default_factory=dict)


class ProbeHop(Contract):
    """One service a pipeline probe passed through."""

    service: str
    at: UtcDatetime
    trace_id: str | None = Field(
        default=None, description="The trace id the service saw (32 hex digits)."
    )


class PipelineProbe(Payload):
    """A diagnostic message that crosses billing → provisioning → dns → notify,
    each service adding itself to ``hops``. Key: probe id."""

    TYPE: ClassVar[str] = "ops.probe"
    probe_id: UUID
    hops: tuple[ProbeHop, ...] = ()


class PipelineProbeCompleted(Payload):
    """A pipeline probe reached the end of the line. Key: probe id."""

    TYPE: ClassVar[str] = "ops.probe.completed"
    probe_id: UUID
    hops: tuple[ProbeHop, ...]


class CommandRejected(Payload):
    """A service refused a command a person sent (bad input, a broken rule):
    the reason, in words to show them. Carries the command's correlation id,
    so the gateway's ``operation_id`` finds it. Key: company id."""

    TYPE: ClassVar[str] = "ops.command.rejected"
    command_id: UUID
    command_type: str
    reason: str = Field(description="pt-BR first, then English.")
