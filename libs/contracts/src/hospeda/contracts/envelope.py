"""The envelope every Hospeda message travels in.

A message on any topic is one JSON object: the envelope fields below plus a
``payload`` whose shape is chosen by ``type``. Partners read the envelope to
route and deduplicate (``id`` is unique per message, redeliveries keep it)
and the payload for the business facts.
"""

from __future__ import annotations

import functools
import ipaddress
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Generic, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
)
from uuid_utils.compat import uuid7


def new_id() -> UUID:
    """A new time-ordered identifier (UUIDv7)."""
    return uuid7()


def utcnow() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a timezone (UTC)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[
    datetime,
    AfterValidator(_require_utc),
    PlainSerializer(
        lambda v: v.astimezone(UTC).isoformat().replace("+00:00", "Z"), return_type=str
    ),
]
"""A timezone-aware instant, normalised to UTC and written with a trailing ``Z``."""


def _check_ip(value: str) -> str:
    return str(ipaddress.ip_address(value))


IpAddress = Annotated[str, AfterValidator(_check_ip)]
"""An IPv4 or IPv6 address in its canonical text form."""


class Contract(BaseModel):
    """Base of every contract model: immutable, tolerant of unknown fields."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class ActorKind(StrEnum):
    """Who caused a message: a customer user, a staff member, a partner's API
    token, or the platform itself."""

    USER = "user"
    STAFF = "staff"
    API_TOKEN = "api_token"  # noqa: S105 - a kind of actor, not a secret
    SYSTEM = "system"


class Actor(Contract):
    """The person or process behind a message."""

    kind: ActorKind
    id: str | None = Field(
        default=None,
        description="User, staff or token id; the service name for system actors.",
        max_length=200,
    )

    @classmethod
    def system(cls, service: str) -> Actor:
        return cls(kind=ActorKind.SYSTEM, id=service)


class Payload(Contract):
    """Base of every message payload.

    Subclasses set ``TYPE`` (the envelope's ``type``, dotted, past tense for
    events and imperative for commands) and ``VERSION``.
    """

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1


P = TypeVar("P", bound=Payload)


class Envelope(Contract, Generic[P]):
    """Envelope of every message on every topic.

    Delivery is at least once: consumers deduplicate by ``id``.
    """

    id: UUID = Field(default_factory=new_id, description="Unique message id (UUIDv7).")
    type: str = Field(description="Discriminates the payload, e.g. `billing.invoice.paid`.")
    version: int = Field(default=1, ge=1, description="Version of the payload schema.")
    occurred_at: UtcDatetime = Field(default_factory=utcnow, description="When it happened (UTC).")
    company_id: UUID | None = Field(
        default=None,
        description="The tenant this message belongs to; absent for platform-wide facts.",
    )
    actor: Actor = Field(description="Who caused it.")
    ip: IpAddress | None = Field(default=None, description="Client IP, where a person acted.")
    correlation_id: UUID = Field(
        default_factory=new_id, description="Shared by every message of one flow."
    )
    causation_id: UUID | None = Field(
        default=None, description="The id of the message that caused this one."
    )
    payload: P

    @classmethod
    def of(
        cls,
        payload: P,
        *,
        actor: Actor,
        company_id: UUID | None = None,
        ip: str | None = None,
        cause: Envelope[Any] | None = None,
        correlation_id: UUID | None = None,
        causation_id: UUID | None = None,
    ) -> Envelope[P]:
        """Wrap ``payload``; when ``cause`` is given, continue its flow
        (same correlation id, causation id = the cause's id)."""
        if cause is not None:
            correlation_id = correlation_id or cause.correlation_id
            causation_id = causation_id or cause.id
        return envelope_class(type(payload))(
            type=payload.TYPE,
            version=payload.VERSION,
            company_id=company_id
            if company_id is not None
            else (cause.company_id if cause else None),
            actor=actor,
            ip=ip,
            correlation_id=correlation_id or new_id(),
            causation_id=causation_id,
            payload=payload,
        )


@functools.cache
def envelope_class(payload_class: type[P]) -> type[Envelope[P]]:
    """The envelope model specialised for one payload class (cached: building a
    parametrised pydantic model is expensive)."""
    return Envelope[payload_class]  # type: ignore[valid-type]


class Money(Contract):
    """An amount of money: integer minor units (cents) and an ISO 4217 currency."""

    amount: int = Field(description="Minor units (cents). Never a float.")
    currency: str = Field(default="BRL", pattern=r"^[A-Z]{3}$")
