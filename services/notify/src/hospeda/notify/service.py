"""Notify's use cases: keep track of who people are, and deliver notifications."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts import Envelope, utcnow
from hospeda.contracts.notify import Channel, NotificationFailed, NotificationSent, SendNotification
from hospeda.contracts.topics import NOTIFY_NOTIFICATION
from hospeda.notify.adapters.smtp import Mailer
from hospeda.notify.models import Delivery, Membership, Person
from hospeda.notify.templates import render
from hospeda.runtime.db import insert_for
from hospeda.runtime.errors import PermanentError
from hospeda.runtime.jobs import ClaimedJob, JobContext, JobEngine, RetryPolicy


@dataclass(frozen=True)
class Address:
    email: str
    name: str | None
    locale: str


class RecipientNotKnownYet(Exception):
    """The person or company members are not in our records yet (identity
    events may still be on their way): retried, not a permanent failure."""


async def remember_person(
    session: AsyncSession, *, user_id: UUID, email: str, name: str, locale: str
) -> None:
    await _upsert(
        session,
        Person,
        {"user_id": user_id, "email": email, "name": name, "locale": locale},
        ["user_id"],
    )


async def remember_membership(
    session: AsyncSession, *, company_id: UUID, user_id: UUID, role: str
) -> None:
    await _upsert(
        session,
        Membership,
        {"company_id": company_id, "user_id": user_id, "role": role},
        ["company_id", "user_id"],
    )


async def forget_membership(session: AsyncSession, *, company_id: UUID, user_id: UUID) -> None:
    await session.execute(
        sa.delete(Membership).where(
            Membership.company_id == company_id, Membership.user_id == user_id
        )
    )  # type: ignore[arg-type]


async def _upsert(
    session: AsyncSession, model: Any, values: dict[str, Any], keys: list[str]
) -> None:
    insert = insert_for(session, model)
    updates = {k: v for k, v in values.items() if k not in keys}
    await session.execute(
        insert.values(**values).on_conflict_do_update(index_elements=keys, set_=updates)
    )


class Notifier:
    """Turns ``SendNotification`` commands into deliveries, as jobs."""

    def __init__(
        self, engine: JobEngine, mailer: Mailer, *, policy: RetryPolicy | None = None
    ) -> None:
        self.engine = engine
        self.mailer = mailer
        engine.kind(
            "deliver", queue="email", policy=policy or RetryPolicy(), on_failure=self._failed
        )(self._deliver)

    async def request(self, session: AsyncSession, message: Envelope[SendNotification]) -> None:
        """Queue the delivery of a notification (once per notification id)."""
        command = message.payload
        await self.engine.enqueue(
            session,
            "deliver",
            command.model_dump(mode="json"),
            target="smtp" if command.channel is Channel.EMAIL else None,
            dedupe_key=f"notification:{command.notification_id}",
            cause=message,
        )

    async def _deliver(self, job: JobContext) -> None:
        command = SendNotification.model_validate(job.payload)
        if command.channel is Channel.PUSH:
            raise PermanentError(
                "notificações push ainda não estão disponíveis / push notifications are not available yet"
            )
        async with job.transaction() as session:
            addresses = await self._addresses(session, command, job.job.company_id)
        for address in addresses:
            text = render(command.template, address.locale, dict(command.data))
            if command.channel is Channel.EMAIL:
                await job.step(
                    f"email:{address.email}",
                    lambda a=address, t=text: self.mailer.send(
                        notification_id=command.notification_id,
                        to=a.email,
                        name=a.name,
                        subject=t.subject,
                        body=t.body,
                    ),
                )
            async with job.transaction() as session:
                await _record_delivery(
                    session, command, job.job.company_id, address.email, text.subject
                )
        job.emit(
            NotificationSent(
                notification_id=command.notification_id,
                channel=command.channel,
                template=command.template,
            ),
            topic=NOTIFY_NOTIFICATION,
            key=command.notification_id,
        )

    async def _addresses(
        self, session: AsyncSession, command: SendNotification, company_id: UUID | None
    ) -> list[Address]:
        recipient = command.recipient
        found: dict[str, Address] = {}
        if recipient.email:
            found[recipient.email.lower()] = Address(
                recipient.email, recipient.name, command.locale
            )
        if recipient.user_id:
            person = await session.get(Person, recipient.user_id)
            if person is None:
                raise RecipientNotKnownYet(f"user {recipient.user_id} not known yet")
            found.setdefault(
                person.email.lower(), Address(person.email, person.name, person.locale)
            )
        if recipient.company_roles:
            if company_id is None:
                raise PermanentError("company_roles needs the message's company_id")
            rows = (
                await session.execute(
                    sa.select(Person)
                    .join(Membership, Membership.user_id == Person.user_id)  # type: ignore[arg-type]
                    .where(
                        Membership.company_id == company_id,
                        Membership.role.in_(recipient.company_roles),
                    )  # type: ignore[attr-defined]
                    .order_by(Person.email)
                )
            ).scalars()
            for person in rows:
                found.setdefault(
                    person.email.lower(), Address(person.email, person.name, person.locale)
                )
            if not found:
                raise RecipientNotKnownYet(
                    f"no member of {company_id} with roles {list(recipient.company_roles)} yet"
                )
        if not found:
            raise PermanentError("notificação sem destinatário / notification without a recipient")
        return list(found.values())

    async def _failed(
        self, session: AsyncSession, job: ClaimedJob, error: str, engine: JobEngine
    ) -> None:
        command = SendNotification.model_validate(job.payload)
        failed = NotificationFailed(
            notification_id=command.notification_id,
            channel=command.channel,
            template=command.template,
            reason=error[:500],
        )
        engine.emit(session, job, failed, topic=NOTIFY_NOTIFICATION, key=command.notification_id)


async def _record_delivery(
    session: AsyncSession,
    command: SendNotification,
    company_id: UUID | None,
    address: str,
    subject: str,
) -> None:
    values = {
        "notification_id": command.notification_id,
        "company_id": company_id,
        "channel": command.channel.value,
        "template": command.template,
        "address": address,
        "subject": subject[:300],
        "sent_at": utcnow(),
    }
    await session.execute(insert_for(session, Delivery).values(**values).on_conflict_do_nothing())
