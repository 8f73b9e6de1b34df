"""Audit rules without I/O: what an entry says about a message, its canonical
stored form and hash, the per-company chain, retention categories and the
signed checkpoint's text. (Merkle hashing: ``merkle``; personal data: ``privacy``.)

An entry's *record* is a flat JSON object of strings, integers and nulls
(``before`` and ``after`` are JSON texts inside it, personal values already
sealed). Its canonical bytes are that object with sorted keys, no spaces,
UTF-8 (``json.dumps(record, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)``); then

- ``hash = SHA-256(canonical)`` (hex), and ``record.prev_hash`` is the hash of
  the entry before it in the same chain (``GENESIS`` for the first);
- the entry's Merkle leaf is ``SHA-256(0x00 || canonical)`` at position
  ``record.leaf_index`` of the one log-wide tree.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from hospeda.contracts import Envelope
from hospeda.contracts.audit import AuditRecord
from hospeda.runtime.redaction import sanitise

FORMAT = 1
GENESIS = "0" * 64
"""The ``prev_hash`` of a chain's first entry."""
PLATFORM = "platform"
NOTE_FORMAT = "hospeda-audit-checkpoint/v1"

RECORD_FIELDS = (
    "v",
    "leaf_index",
    "id",
    "message_id",
    "chain",
    "seq",
    "company_id",
    "occurred_at",
    "recorded_at",
    "actor_kind",
    "actor_id",
    "action",
    "entity",
    "entity_id",
    "before",
    "after",
    "ip",
    "user_agent",
    "topic",
    "correlation_id",
    "causation_id",
    "trace_id",
    "category",
    "migrated_from",
    "prev_hash",
)
"""Every field of an entry's record, the ones its hash covers."""


class AuditError(Exception):
    """A rule of the audit log was broken (a bad key, a forged checkpoint …)."""


# --- categories and retention ---------------------------------------------------------------

CATEGORIES = ("access", "security", "identity", "billing", "operations", "audit")
DEFAULT_RETENTION_DAYS = {
    "access": 365,
    "security": 730,
    "identity": 1825,
    "billing": 1825,
    "operations": 365,
    "audit": 3650,
}
MIN_RETENTION_DAYS = {"access": 183}
"""Marco Civil da Internet, Art. 15: access logs are kept at least six months."""

_ACCESS = re.compile(r"^(user\.(login|logout)|audit\.(read|export)|staff\.acting|session\.)")
_SECURITY = re.compile(r"^(user\.(password|totp|recovery)|token\.|member\.|staff\.)")


def category_of(action: str, topic: str) -> str:
    """The retention category of an entry."""
    if _ACCESS.match(action):
        return "access"
    if topic.startswith("audit.log") or action.startswith("audit."):
        return "audit"
    if _SECURITY.match(action):
        return "security"
    if topic.startswith("identity.") or action.startswith(("user.", "company.")):
        return "identity"
    if topic.startswith("billing.") or action.startswith("billing."):
        return "billing"
    return "operations"


def period_of(moment: datetime) -> str:
    """The month a personal value's key belongs to (``YYYYMM``)."""
    return f"{moment.year:04d}{moment.month:02d}"


# --- what a message says ---------------------------------------------------------------------


def chain_of(company_id: UUID | None) -> str:
    return str(company_id) if company_id else PLATFORM


def entity_of_topic(topic: str) -> str:
    """``billing.invoice.v1`` → ``invoice``; ``dns.commands.v1`` → ``command``."""
    parts = topic.split(".")
    name = parts[1] if len(parts) >= 3 else topic
    return "command" if name == "commands" else name


@dataclass(frozen=True)
class Draft:
    """An entry before it is sealed, chained and numbered: what happened,
    secrets already redacted and control characters escaped."""

    message_id: UUID
    company_id: UUID | None
    occurred_at: datetime
    actor_kind: str
    actor_id: str | None
    action: str
    entity: str
    entity_id: str | None
    before: Any
    after: Any
    ip: str | None
    user_agent: str | None
    topic: str
    correlation_id: UUID
    causation_id: UUID | None
    trace_id: str | None
    migrated_from: str | None = None

    @property
    def chain(self) -> str:
        return chain_of(self.company_id)

    @property
    def category(self) -> str:
        return category_of(self.action, self.topic)


def _text(value: str | None, limit: int) -> str | None:
    return None if value is None else sanitise(value)[:limit]


def draft_of(
    envelope: Envelope[Any], *, topic: str, key: str | None, trace_id: str | None
) -> Draft:
    """The entry a message makes: an explicit ``AuditRecord`` says what was
    done; any other message is the action of its type on its topic's entity."""
    payload = envelope.payload
    if isinstance(payload, AuditRecord):
        action, entity, entity_id = payload.action, payload.entity, payload.entity_id
        before, after, user_agent = payload.before, payload.after, payload.user_agent
    else:
        action, entity, entity_id = envelope.type, entity_of_topic(topic), key
        before, after, user_agent = None, payload.model_dump(mode="json"), None
    return Draft(
        message_id=envelope.id,
        company_id=envelope.company_id,
        occurred_at=envelope.occurred_at,
        actor_kind=envelope.actor.kind.value,
        actor_id=_text(envelope.actor.id, 200),
        action=_text(action, 100) or "",
        entity=_text(entity, 100) or "",
        entity_id=_text(entity_id, 255),
        before=sanitise(before),
        after=sanitise(after),
        ip=envelope.ip,
        user_agent=_text(user_agent, 500),
        topic=topic,
        correlation_id=envelope.correlation_id,
        causation_id=envelope.causation_id,
        trace_id=trace_id,
    )


# --- the stored form ------------------------------------------------------------------------


def timestamp(moment: datetime) -> str:
    """UTC, microseconds, trailing ``Z``: the one text form of a time in records."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def json_text(value: Any) -> str | None:
    return None if value is None else _CANONICAL.encode(value)


def canonical(record: Mapping[str, Any]) -> bytes:
    return _CANONICAL.encode(record).encode()


def record_hash(canonical_bytes: bytes) -> str:
    return hashlib.sha256(canonical_bytes).hexdigest()


# --- checkpoints ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """What a checkpoint signs."""

    origin: str
    tree_size: int
    root_hash: bytes
    issued_at: datetime
    key_id: str

    def text(self) -> str:
        return (
            f"{NOTE_FORMAT}\n{self.origin}\n{self.tree_size}\n"
            f"{base64.b64encode(self.root_hash).decode()}\n{timestamp(self.issued_at)}\n"
            f"{self.key_id}\n"
        )

    @classmethod
    def parse(cls, text: str) -> Note:
        lines = text.split("\n")
        if len(lines) != 7 or lines[0] != NOTE_FORMAT or lines[6] != "":
            raise AuditError("not a hospeda-audit checkpoint note")
        try:
            return cls(
                origin=lines[1],
                tree_size=int(lines[2]),
                root_hash=base64.b64decode(lines[3], validate=True),
                issued_at=datetime.fromisoformat(lines[4].replace("Z", "+00:00")),
                key_id=lines[5],
            )
        except ValueError as exc:
            raise AuditError(f"unreadable checkpoint note: {exc}") from None


def key_id_of(public_key: bytes) -> str:
    """The first 8 bytes of SHA-256 of the raw Ed25519 public key, hex."""
    return hashlib.sha256(public_key).hexdigest()[:16]
