"""Turning bytes into typed envelopes and back."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import from_json

from hospeda.contracts.envelope import Envelope, Payload, envelope_class
from hospeda.contracts.queries import QueryReply
from hospeda.contracts.topics import TOPICS


class UnreadableMessage(ValueError):
    """Bytes that are not a valid message: not JSON, unknown ``type``, or a
    payload that fails its schema. The text says which, for the DLQ."""


def _collect() -> dict[str, type[Payload]]:
    types: dict[str, type[Payload]] = {QueryReply.TYPE: QueryReply}
    for topic in TOPICS:
        for message in topic.messages:
            known = types.setdefault(message.TYPE, message)
            if known is not message:
                raise RuntimeError(f"message type {message.TYPE!r} names two classes")
    return types


MESSAGE_TYPES: dict[str, type[Payload]] = _collect()
"""Every message type, by its ``type`` string."""


def encode(envelope: Envelope[Any]) -> bytes:
    """The wire form of a message: compact UTF-8 JSON."""
    return envelope.model_dump_json().encode()


def decode(raw: bytes | None) -> Envelope[Any]:
    """Parse and validate a message, choosing the payload model by ``type``.

    Raises ``UnreadableMessage`` with a reason fit for a dead-letter header.
    """
    if raw is None:
        raise UnreadableMessage("empty message (tombstone)")
    try:
        data = from_json(raw)
    except ValueError as exc:
        raise UnreadableMessage(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UnreadableMessage("not a JSON object")
    message_type = data.get("type")
    payload_class = MESSAGE_TYPES.get(message_type) if isinstance(message_type, str) else None
    if payload_class is None:
        raise UnreadableMessage(f"unknown message type {message_type!r}")
    try:
        return envelope_class(payload_class).model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise UnreadableMessage(f"invalid {message_type}: {problems}") from None
