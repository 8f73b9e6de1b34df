"""DNS: record changes the gateway sends dns, and the zones it passes on."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from hospeda.contracts.dns import RecordSpec
from hospeda.gateway.schemas.common import Page


class RecordIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"record": {"type": "A", "name": "loja", "content": "203.0.113.10", "ttl": 3600}}
            ]
        }
    )

    record: RecordSpec


# --- answers of dns's queries --------------------------------------------------------------
# Passed on as dns gives them; typed by the runtime's query layer (issue 10), as in
# schemas.billing.
Zones = Page[Any]  # zones.list
Zone = dict[str, Any]  # zones.get (with its records)
