"""Errors the runtime maps once, at the edge of a consumer or a job."""

from __future__ import annotations


class PermanentError(Exception):
    """This message or job can never succeed as it is (bad input, a rule it
    breaks). Consumers dead-letter it at once; jobs fail without retrying.
    The text is shown to operators and customers, so make it clear."""


class NotFound(PermanentError):
    """The thing asked for does not exist (or belongs to another company —
    the answer must not tell the difference)."""


class Forbidden(PermanentError):
    """The actor may not do this."""


class QueryTimeout(Exception):
    """A service did not answer a query in time."""

    def __init__(self, service: str, name: str, timeout: float) -> None:
        super().__init__(f"{service} did not answer {name!r} within {timeout:.1f}s")
        self.service = service
        self.name = name
        self.timeout = timeout


class QueryFailed(Exception):
    """A service answered a query with an error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
