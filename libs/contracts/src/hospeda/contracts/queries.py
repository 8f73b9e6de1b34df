"""Request/reply over Kafka: how the gateway reads data a service owns.

A ``Query`` goes to ``<service>.queries.v1`` with a ``reply-to`` header naming
the asking gateway instance's reply topic; the service answers there with a
``QueryReply`` carrying the same correlation id. Queries change nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from hospeda.contracts.envelope import Contract, Payload


class Query(Payload):
    """Ask a service for data. Key: company id (or none)."""

    TYPE: ClassVar[str] = "query"
    name: str = Field(min_length=1, max_length=100, description="e.g. `invoice.list`.")
    params: dict[str, Any] = Field(default_factory=dict)


class QueryError(Contract):
    """Why a query could not be answered, in words an API client can show."""

    code: str = Field(
        description="`not_found`, `invalid`, `forbidden`, `unknown_query`, `internal`."
    )
    message: str


class QueryReply(Payload):
    """The answer to a ``Query``: ``data`` when ``ok``, else ``error``."""

    TYPE: ClassVar[str] = "query.reply"
    ok: bool
    data: Any = None
    error: QueryError | None = None
