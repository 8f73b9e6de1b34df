"""Audit rules without I/O: what an entry says about a message, and its hash."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hospeda.contracts import Envelope
from hospeda.contracts.audit import AuditRecord

GENESIS = "0" * 64
"""The ``prev_hash`` of a chain's first entry."""


def chain_of(envelope: Envelope[Any]) -> str:
    return str(envelope.company_id) if envelope.company_id else "platform"


def entity_of_topic(topic: str) -> str:
    """``billing.invoice.v1`` → ``invoice``; ``dns.commands.v1`` → ``command``."""
    parts = topic.split(".")
    name = parts[1] if len(parts) >= 3 else topic
    return "command" if name == "commands" else name


def describe(envelope: Envelope[Any], *, topic: str, key: str | None) -> dict[str, Any]:
    """The facts an entry records about ``envelope``."""
    payload = envelope.payload
    if isinstance(payload, AuditRecord):
        action, entity, entity_id = payload.action, payload.entity, payload.entity_id
        before, after, user_agent = payload.before, payload.after, payload.user_agent
    else:
        action, entity, entity_id = envelope.type, entity_of_topic(topic), key
        before, after, user_agent = None, payload.model_dump(mode="json"), None
    return {
        "message_id": envelope.id,
        "chain": chain_of(envelope),
        "company_id": envelope.company_id,
        "occurred_at": envelope.occurred_at,
        "actor_kind": envelope.actor.kind.value,
        "actor_id": envelope.actor.id,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "before": before,
        "after": after,
        "ip": envelope.ip,
        "user_agent": user_agent,
        "topic": topic,
        "correlation_id": envelope.correlation_id,
        "causation_id": envelope.causation_id,
    }


def entry_hash(prev_hash: str, facts: dict[str, Any]) -> str:
    """SHA-256 of the previous hash and the entry's facts in canonical JSON."""
    canonical = json.dumps(
        facts, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False
    )
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()
