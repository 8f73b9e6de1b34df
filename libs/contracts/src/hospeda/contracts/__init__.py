"""Hospeda's message contracts: the envelope, the topic registry and every
message. This package is the platform's public API for partners."""

from hospeda.contracts.envelope import (
    Actor,
    ActorKind,
    Contract,
    Envelope,
    Money,
    Payload,
    UtcDatetime,
    new_id,
    utcnow,
)
from hospeda.contracts.registry import MESSAGE_TYPES, UnreadableMessage, decode, encode
from hospeda.contracts.topics import TOPICS, TOPICS_BY_NAME, Topic, topic

__all__ = [
    "MESSAGE_TYPES",
    "TOPICS",
    "TOPICS_BY_NAME",
    "Actor",
    "ActorKind",
    "Contract",
    "Envelope",
    "Money",
    "Payload",
    "Topic",
    "UnreadableMessage",
    "UtcDatetime",
    "decode",
    "encode",
    "new_id",
    "topic",
    "utcnow",
]
