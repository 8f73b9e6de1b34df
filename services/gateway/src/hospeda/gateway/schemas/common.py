"""What every area's models share: field types, the OpenAPI example helper, and
the answers many routes give (``Outcome``, ``Page``, ``Accepted``)."""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

EXAMPLE_USER = "0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a01"
EXAMPLE_COMPANY = "0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a02"

# Free text never holds control characters (CR/LF, NUL, tabs …): they break e-mail
# headers and logs. Every free-text field uses ``Text`` (or ``Name``); the 422 says why.
NO_CONTROLS = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*$"
Text = Annotated[str, Field(pattern=NO_CONTROLS)]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_CONTROLS),
]
Password = Annotated[
    str, Field(min_length=12, max_length=256, examples=["cavalo-correto-bateria-grampo"])
]
Locale = Literal["pt-BR", "en"]
Secret = Annotated[str, Field(min_length=1, max_length=200)]

T = TypeVar("T")


def example(**values: Any) -> ConfigDict:
    """A model's OpenAPI example."""
    return ConfigDict(json_schema_extra={"examples": [values]})


class Outcome(BaseModel):
    model_config = example(status="accepted")

    status: str = "accepted"


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [], "next_cursor": None}]})

    items: list[T]
    next_cursor: str | None = Field(default=None, description="Absent on the last page.")


class Accepted(BaseModel):
    """A command was accepted; follow it at ``GET /api/v1/operations/{operation_id}``
    or on the event stream."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "operation_id": "0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a69",
                    "status": "accepted",
                    "resource_id": "0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a70",
                }
            ]
        }
    )

    operation_id: UUID = Field(description="Correlation id of every message this command causes.")
    status: str = "accepted"
    resource_id: str | None = Field(
        default=None, description="The id the command creates or acts on."
    )
