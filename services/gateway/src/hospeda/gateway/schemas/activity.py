"""What happened: commands followed by their operation id, and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from hospeda.gateway.schemas.common import Page


class OperationEvent(BaseModel):
    id: UUID
    type: str = Field(description="e.g. `billing.invoice.issued`.")
    topic: str
    occurred_at: datetime
    data: dict[str, Any]


class OperationOut(BaseModel):
    """What became of a command so far."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "operation_id": "0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a69",
                    "command": "billing.place_order",
                    "resource_id": "0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a70",
                    "accepted_at": "2026-11-29T12:00:00Z",
                    "status": "processing",
                    "rejection": None,
                    "events": [],
                }
            ]
        }
    )

    operation_id: UUID
    command: str
    resource_id: str | None
    accepted_at: datetime
    status: str = Field(
        description="`accepted` (nothing has happened yet), `processing` (events "
        "follow), or `rejected` (see `rejection`)."
    )
    rejection: str | None = Field(
        default=None, description="Why the service refused it, pt-BR then English."
    )
    events: list[OperationEvent] = Field(
        description="What it caused so far, oldest first; only the kinds you may see."
    )


# The audit service's answer to `entries.list`, passed on as it comes. It gets its
# item model from the runtime's typed query layer (issue 10): then this becomes
# Page[<the audit entry model in hospeda.contracts>] and OpenAPI documents it.
AuditEntries = Page[Any]


class AuditExport(BaseModel):
    """`GET /audit/export?format=json`: the entries as `entries.list` gives them."""

    format: str = Field(description="`hospeda-audit-export/v1`.")
    company_id: UUID
    items: list[dict[str, Any]] = Field(description="Oldest first; see `GET /audit`.")
