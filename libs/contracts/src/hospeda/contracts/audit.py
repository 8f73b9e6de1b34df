"""Audit records: the explicit "who did what, when, from where" entries.

The audit service also records every other message it sees; this type is
what the gateway and services send for actions that are not otherwise an
event (a login, a staff member opening a company, a read of the audit log).
Actor, company and IP travel in the envelope.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from pydantic import Field

from hospeda.contracts.envelope import Payload, UtcDatetime


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


class CheckpointSigned(Payload):
    """The audit log's signed checkpoint: the size and RFC 9162 Merkle root of
    the whole log at ``issued_at``, signed with Ed25519. Written at least every
    minute; keep your own copies, then ask for a consistency proof
    (``python -m hospeda.audit prove --from OLD_SIZE``) to check the log only
    grew. Key: ``origin``.

    ``note`` is exactly the signed text (lines: format, origin, tree size,
    base64 root hash, time, key id); ``signature`` is the base64 Ed25519
    signature over its UTF-8 bytes by the key whose raw public key is
    ``public_key`` (trust it only if ``key_id`` is one you were given)."""

    TYPE: ClassVar[str] = "audit.checkpoint.signed"
    origin: str = Field(min_length=1, max_length=200, description="Names the log.")
    tree_size: int = Field(ge=0, description="Number of entries (leaves) covered.")
    root_hash: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="RFC 9162 Merkle tree head, hex SHA-256."
    )
    issued_at: UtcDatetime
    key_id: str = Field(
        pattern=r"^[0-9a-f]{16}$", description="First 8 bytes of SHA-256 of the public key, hex."
    )
    public_key: str = Field(description="Raw Ed25519 public key, base64.")
    signature: str = Field(description="Ed25519 signature over ``note``, base64.")
    note: str = Field(description="The signed text.")


class SubjectErased(Payload):
    """A data subject's keys were destroyed (LGPD Art. 18): what the audit log
    held about them can no longer be read anywhere, and its hashes still verify.
    Carries only the pseudonymous subject id. Key: ``subject_id``."""

    TYPE: ClassVar[str] = "audit.subject.erased"
    subject_id: UUID = Field(description="The pseudonymous id the log used for the person.")
    entries: int = Field(ge=0, description="Entries that held the subject's data.")
    keys_destroyed: int = Field(ge=0)
    reason: str = Field(default="lgpd-art-18", max_length=200)
