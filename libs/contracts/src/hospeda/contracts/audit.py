"""Audit records: the explicit "who did what, when, from where" entries.

The audit service also records every other message it sees; this type is
what the gateway and services send for actions that are not otherwise an
event (a login, a staff member opening a company, a read of the audit log).
Actor, company and IP travel in the envelope.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from hospeda.contracts.envelope import Payload


class AuditRecord(Payload):
    """An action to keep in the tenant's append-only audit trail. Key: company id
    (or `platform`).

    ``before`` and ``after`` never hold passwords, tokens, secrets or card data.
    """

    TYPE: ClassVar[str] = "audit.record"
    action: str = Field(
        min_length=1, max_length=100, description="e.g. `user.login`, `invoice.refund`."
    )
    entity: str = Field(min_length=1, max_length=100, description="e.g. `invoice`.")
    entity_id: str | None = Field(default=None, max_length=200)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    user_agent: str | None = Field(default=None, max_length=500)
