"""Everything the gateway sends to Kafka goes through its outbox, in the same
transaction as the change it announces: identity events, commands for the
other services, notification requests and audit records.

``Origin`` is who is acting and from where; every message carries it (actor,
active company, IP, one correlation id per HTTP request).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts import Actor, Envelope, Payload, Topic, new_id
from hospeda.contracts.audit import AuditRecord
from hospeda.contracts.notify import Channel, Recipient, SendNotification
from hospeda.contracts.topics import AUDIT_RECORDS, NOTIFY_COMMANDS
from hospeda.runtime import outbox


@dataclass
class Origin:
    """Who acts, for which company, from where — for one HTTP request."""

    actor: Actor
    company_id: UUID | None
    ip: str | None
    user_agent: str | None
    correlation_id: UUID = field(default_factory=new_id)
    audited: list[str] = field(default_factory=list)

    def as_actor(self, actor: Actor) -> Origin:
        """The same request, attributed to ``actor`` (e.g. the person who just signed up)."""
        self.actor = actor
        return self


def send(
    session: AsyncSession,
    origin: Origin,
    payload: Payload,
    *,
    topic: Topic,
    key: str | UUID | None,
    company_id: UUID | None = None,
) -> Envelope[Any]:
    """Queue ``payload`` on ``topic``; it is published once the transaction commits."""
    envelope = Envelope.of(
        payload,
        actor=origin.actor,
        company_id=company_id if company_id is not None else origin.company_id,
        ip=origin.ip,
        correlation_id=origin.correlation_id,
    )
    outbox.add(session, envelope, topic=topic, key=key)
    return envelope


_SECRET_KEYS = re.compile(
    r"password|secret|csrf|totp|recovery|token$|_hash$|^code$|^session", re.IGNORECASE
)


def redact(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """Drop anything that looks like a secret: audit records never hold one."""
    if values is None:
        return None
    return {
        k: redact(v) if isinstance(v, dict) else v
        for k, v in values.items()
        if not _SECRET_KEYS.search(k)
    }


def audit(
    session: AsyncSession,
    origin: Origin,
    action: str,
    entity: str,
    entity_id: str | UUID | None = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    company_id: UUID | None = None,
) -> None:
    """Record who did what to which entity, before and after, from where."""
    company = company_id if company_id is not None else origin.company_id
    record = AuditRecord(
        action=action,
        entity=entity,
        entity_id=str(entity_id) if entity_id is not None else None,
        before=redact(before),
        after=redact(after),
        user_agent=origin.user_agent[:500] if origin.user_agent else None,
    )
    send(
        session,
        origin,
        record,
        topic=AUDIT_RECORDS,
        key=str(company) if company else "platform",
        company_id=company,
    )
    origin.audited.append(action)


def notify(
    session: AsyncSession,
    origin: Origin,
    *,
    template: str,
    recipient: Recipient,
    locale: str,
    data: dict[str, str | int | bool | None],
    company_id: UUID | None = None,
) -> UUID:
    """Ask notify to e-mail someone (single-use links are fine in ``data``; passwords never)."""
    notification_id = new_id()
    send(
        session,
        origin,
        SendNotification(
            notification_id=notification_id,
            channel=Channel.EMAIL,
            template=template,
            locale=locale,
            recipient=recipient,
            data=data,
        ),
        topic=NOTIFY_COMMANDS,
        key=notification_id,
        company_id=company_id,
    )
    return notification_id
