"""Delivering notifications, as durable jobs.

A ``SendNotification`` becomes one ``deliver`` job (once per notification id,
however often the command arrives). That job finds the people it is for,
keeps it in each person's inbox, and queues the channels their preferences
allow: one ``email`` job for every address, one ``push`` job per person (due
at once, or when their quiet hours end). Each channel job retries transient
failures with backoff and records every delivery — sent, held, skipped,
failed and why — announcing each status once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts import Envelope, new_id
from hospeda.contracts.notify import (
    Channel,
    DeliveryStatus,
    DeliveryStatusChanged,
    InboxItemCreated,
    NotificationFailed,
    NotificationSent,
    PushSubscriptionRemoved,
    SendNotification,
)
from hospeda.contracts.topics import (
    NOTIFY_DELIVERY,
    NOTIFY_INBOX,
    NOTIFY_NOTIFICATION,
    NOTIFY_PERSON,
)
from hospeda.notify import domain
from hospeda.notify import repository as repo
from hospeda.notify.adapters.smtp import Email, Mailer
from hospeda.notify.adapters.webpush import Device, Push, Pusher, SubscriptionGone
from hospeda.notify.config import NotifySettings
from hospeda.notify.links import Links
from hospeda.notify.models import Person
from hospeda.notify.templates import Footer, Message, render
from hospeda.runtime.clock import Clock
from hospeda.runtime.errors import PermanentError
from hospeda.runtime.jobs import ClaimedJob, JobContext, JobEngine, NewJob, RetryPolicy
from hospeda.runtime.redaction import redact_text


@dataclass(frozen=True)
class Address:
    """One person (or bare address) a notification is for."""

    email: str
    name: str | None
    locale: str
    user_id: UUID | None = None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "user_id": str(self.user_id) if self.user_id else None}

    @classmethod
    def of_json(cls, raw: dict[str, Any]) -> Address:
        return cls(**{**raw, "user_id": UUID(raw["user_id"]) if raw.get("user_id") else None})


class RecipientNotKnownYet(Exception):
    """The person or company members are not in our records yet (identity
    events may still be on their way): retried, not a permanent failure."""


class Notifier:
    """Turns ``SendNotification`` commands into inbox items, e-mails and pushes."""

    def __init__(
        self,
        engine: JobEngine,
        mailer: Mailer,
        pusher: Pusher,
        settings: NotifySettings,
        *,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.engine, self.mailer, self.pusher, self.settings = engine, mailer, pusher, settings
        self.links = Links(settings.app_url, settings.unsubscribe_secret)
        policy = policy or RetryPolicy()
        engine.kind("deliver", queue="notify", policy=policy)(self._route)
        engine.kind("email", queue="email", policy=policy, on_failure=self._email_failed)(
            self._email
        )
        engine.kind("push", queue="push", policy=policy, on_failure=self._push_failed)(self._push)

    @property
    def clock(self) -> Clock:
        return self.engine.clock

    async def request(self, session: AsyncSession, message: Envelope[SendNotification]) -> None:
        """Queue a notification (once per notification id)."""
        await self.send(session, message.payload, cause=message)

    async def send(
        self,
        session: AsyncSession,
        command: SendNotification,
        *,
        cause: Envelope[Any] | None = None,
        company_id: UUID | None = None,
    ) -> None:
        domain.notice(command.template)  # an unknown template is refused now, not later
        await self.engine.enqueue(
            session,
            "deliver",
            command.model_dump(mode="json"),
            dedupe_key=f"notification:{command.notification_id}",
            cause=cause,
            company_id=company_id,
        )

    # --- deliver: people, inbox, channels ------------------------------------------------------

    async def _route(self, job: JobContext) -> None:
        command = SendNotification.model_validate(job.payload)
        kind = domain.notice(command.template)
        company_id = job.job.company_id
        now = self.clock.now()
        async with job.transaction() as session:
            people = await self._addresses(session, command, company_id, kind)
            user_ids = [p.user_id for p in people if p.user_id is not None]
            preferences = await repo.preferences_of(session, user_ids)
            settings = await repo.settings_of(session, user_ids)
            with_devices = await repo.people_with_devices(session, user_ids)
            sender = await repo.company_name(session, company_id)
            data = dict(command.data)
            emails: list[dict[str, Any]] = []
            pushes: list[NewJob] = []
            for person in people:
                text = render(command.template, person.locale, data)
                if person.user_id is None:
                    emails.append(person.as_json())
                    continue
                await self._keep_in_inbox(session, job.job, command, kind, person, text, company_id)
                wanted = preferences[person.user_id]
                if domain.EMAIL in kind.channels:
                    if domain.wants(kind, domain.EMAIL, wanted):
                        emails.append(person.as_json())
                    else:
                        await self._status(
                            session, job.job, command, kind, Channel.EMAIL, person.email,
                            DeliveryStatus.SKIPPED, person.user_id, text.subject,
                            reason="desligado nas preferências / turned off in preferences",
                        )  # fmt: skip
                if person.user_id not in with_devices or domain.PUSH not in kind.channels:
                    continue
                if not domain.wants(kind, domain.PUSH, wanted):
                    await self._status(
                        session, job.job, command, kind, Channel.PUSH, str(person.user_id),
                        DeliveryStatus.SKIPPED, person.user_id, text.subject,
                        reason="desligado nas preferências / turned off in preferences",
                    )  # fmt: skip
                    continue
                own = settings.get(person.user_id)
                held = domain.push_held_until(
                    now,
                    own.time_zone if own else domain.DEFAULT_TIME_ZONE,
                    domain.QuietHours.parse(
                        own.quiet_hours_start if own else None, own.quiet_hours_end if own else None
                    ),
                    kind.urgency,
                )
                if held is not None:
                    await self._status(
                        session, job.job, command, kind, Channel.PUSH, str(person.user_id),
                        DeliveryStatus.HELD, person.user_id, text.subject,
                        reason="horário de silêncio / quiet hours", held_until=held,
                    )  # fmt: skip
                tag = domain.tag(kind, data, command.notification_id)
                push = Push(
                    title=text.subject,
                    body=text.summary,
                    url=str(data.get("link") or self.links.inbox()),
                    tag=tag,
                    urgency=kind.urgency.value,
                    topic=domain.push_topic(tag),
                    ttl=self.settings.push_ttl_s,
                    data={"notification_id": str(command.notification_id)},
                )
                pushes.append(
                    NewJob(
                        "push",
                        {
                            "notification": job.payload,
                            "user_id": str(person.user_id),
                            "push": asdict(push),
                        },
                        target="push",
                        dedupe_key=f"push:{command.notification_id}:{person.user_id}",
                        company_id=company_id,
                        run_at=held,
                    )
                )
            if emails:
                pushes.append(
                    NewJob(
                        "email",
                        {"notification": job.payload, "recipients": emails, "sender_name": sender},
                        target="smtp",
                        dedupe_key=f"email:{command.notification_id}",
                        company_id=company_id,
                    )
                )
            if pushes:
                await self.engine.enqueue_many(session, pushes, cause=_cause_of(job, command))

    async def _keep_in_inbox(
        self,
        session: AsyncSession,
        job: ClaimedJob,
        command: SendNotification,
        kind: domain.Notice,
        person: Address,
        text: Message,
        company_id: UUID | None,
    ) -> None:
        assert person.user_id is not None
        item_id, now = new_id(), self.clock.now()
        url = command.data.get("link")
        values = {
            "id": item_id,
            "user_id": person.user_id,
            "company_id": company_id,
            "notification_id": command.notification_id,
            "template": command.template,
            "category": kind.category.value,
            "title": text.subject,
            "body": text.summary[:2000],
            "url": str(url)[:2000] if url else None,
            "created_at": now,
        }
        if await repo.add_inbox_item(session, values):
            self.engine.emit(
                session,
                job,
                InboxItemCreated(
                    item_id=item_id,
                    user_id=person.user_id,
                    notification_id=command.notification_id,
                    template=command.template,
                    category=kind.category,
                    title=text.subject,
                    body=values["body"],
                    url=values["url"],
                    created_at=now,
                ),
                topic=NOTIFY_INBOX,
                key=person.user_id,
            )

    async def _addresses(
        self,
        session: AsyncSession,
        command: SendNotification,
        company_id: UUID | None,
        kind: domain.Notice,
    ) -> list[Address]:
        recipient = command.recipient
        found: dict[str, Address] = {}

        def add(person: Person) -> None:
            found.setdefault(
                person.email.lower(),
                Address(person.email, person.name, person.locale, person.user_id),
            )

        if recipient.email:
            found[recipient.email.lower()] = Address(
                recipient.email, recipient.name, command.locale
            )
        if recipient.user_id:
            person = await repo.person(session, recipient.user_id)
            if person is None:
                raise RecipientNotKnownYet(f"user {recipient.user_id} not known yet")
            add(person)
        if recipient.staff_roles:
            staff = await repo.staff(session, recipient.staff_roles)
            on_duty = [p for p, duty in staff if duty] or [p for p, _ in staff]  # nobody: everyone
            for person in on_duty:
                add(person)
            if not found:
                return []  # no staff to tell (yet): nothing to deliver, nothing to retry
        roles = recipient.company_roles
        if not (recipient.email or recipient.user_id or recipient.staff_roles or roles):
            roles = domain.AUDIENCE[kind.category]  # the company, by what the notice is about
        if roles:
            if company_id is None:
                raise PermanentError("company_roles needs the message's company_id")
            for person in await repo.members(session, company_id, roles):
                add(person)
            if not found:
                raise RecipientNotKnownYet(
                    f"no member of {company_id} with roles {list(roles)} yet"
                )
        if not found:
            raise PermanentError("notificação sem destinatário / notification without a recipient")
        return list(found.values())

    # --- e-mail ------------------------------------------------------------------------------

    async def _email(self, job: JobContext) -> None:
        command = SendNotification.model_validate(job.payload["notification"])
        kind = domain.notice(command.template)
        sender = job.payload.get("sender_name")
        for raw in job.payload["recipients"]:
            person = Address.of_json(raw)
            footer = None
            unsubscribe = None
            if person.user_id is not None:
                if domain.unsubscribable(kind):
                    unsubscribe = self.links.unsubscribe(person.user_id, kind.category)
                footer = Footer(preferences=self.links.preferences(), unsubscribe=unsubscribe)
            text = render(command.template, person.locale, dict(command.data), footer)
            email = Email(
                notification_id=command.notification_id,
                to=person.email,
                name=person.name,
                subject=text.subject,
                text=text.body,
                html=text.html,
                sender_name=sender,
                unsubscribe_url=unsubscribe,
            )
            await job.step(f"email:{person.email}", partial(self.mailer.send, email))
            async with job.transaction() as session:
                await self._status(
                    session, job.job, command, kind, Channel.EMAIL, person.email,
                    DeliveryStatus.SENT, person.user_id, text.subject,
                )  # fmt: skip
        job.emit(
            NotificationSent(
                notification_id=command.notification_id,
                channel=Channel.EMAIL,
                template=command.template,
            ),
            topic=NOTIFY_NOTIFICATION,
            key=command.notification_id,
        )

    async def _email_failed(
        self, session: AsyncSession, job: ClaimedJob, error: str, engine: JobEngine
    ) -> None:
        command = SendNotification.model_validate(job.payload["notification"])
        kind = domain.notice(command.template)
        for raw in job.payload["recipients"]:
            if f"email:{raw['email']}" in job.steps_done:
                continue
            user_id = UUID(raw["user_id"]) if raw["user_id"] else None
            await self._status(
                session, job, command, kind, Channel.EMAIL, raw["email"],
                DeliveryStatus.FAILED, user_id, command.template, reason=error,
            )  # fmt: skip
        engine.emit(
            session,
            job,
            NotificationFailed(
                notification_id=command.notification_id,
                channel=Channel.EMAIL,
                template=command.template,
                reason=redact_text(error)[:500],
            ),
            topic=NOTIFY_NOTIFICATION,
            key=command.notification_id,
        )

    # --- push --------------------------------------------------------------------------------

    async def _push(self, job: JobContext) -> None:
        command = SendNotification.model_validate(job.payload["notification"])
        kind = domain.notice(command.template)
        user_id = UUID(job.payload["user_id"])
        push = Push(**job.payload["push"])
        async with job.transaction() as session:
            devices = await repo.devices_of(session, user_id)
        delivered = 0
        for device in devices:
            target = Device(device.endpoint, device.p256dh, device.auth_secret)
            outcome = await job.step(f"push:{device.id}", lambda t=target: self._push_one(t, push))
            async with job.transaction() as session:
                if outcome == "sent":
                    delivered += 1
                    await repo.touch_device(session, device.id, self.clock.now())
                elif await repo.remove_device(session, device.id) is not None:
                    self.engine.emit(
                        session,
                        job.job,
                        PushSubscriptionRemoved(
                            subscription_id=device.id, user_id=user_id, reason=str(outcome)[:300]
                        ),
                        topic=NOTIFY_PERSON,
                        key=user_id,
                    )
        status, reason = (
            (DeliveryStatus.SENT, None)
            if delivered
            else (DeliveryStatus.FAILED, "nenhum dispositivo ativo / no active device")
        )
        async with job.transaction() as session:
            await self._status(
                session, job.job, command, kind, Channel.PUSH, str(user_id), status, user_id,
                push.title, reason=reason,
            )  # fmt: skip
        if delivered:
            job.emit(
                NotificationSent(
                    notification_id=command.notification_id,
                    channel=Channel.PUSH,
                    template=command.template,
                    user_id=user_id,
                ),
                topic=NOTIFY_NOTIFICATION,
                key=command.notification_id,
            )

    async def _push_one(self, device: Device, push: Push) -> str:
        """``sent``, or why the device is gone (then it is removed, not retried)."""
        try:
            await self.pusher.send(device, push)
        except SubscriptionGone as gone:
            return str(gone)
        return "sent"

    async def _push_failed(
        self, session: AsyncSession, job: ClaimedJob, error: str, engine: JobEngine
    ) -> None:
        command = SendNotification.model_validate(job.payload["notification"])
        user_id = UUID(job.payload["user_id"])
        await self._status(
            session, job, command, domain.notice(command.template), Channel.PUSH, str(user_id),
            DeliveryStatus.FAILED, user_id, job.payload["push"]["title"], reason=error,
        )  # fmt: skip
        engine.emit(
            session,
            job,
            NotificationFailed(
                notification_id=command.notification_id,
                channel=Channel.PUSH,
                template=command.template,
                reason=redact_text(error)[:500],
                user_id=user_id,
            ),
            topic=NOTIFY_NOTIFICATION,
            key=command.notification_id,
        )

    # --- one delivery's status -----------------------------------------------------------------

    async def _status(
        self,
        session: AsyncSession,
        job: ClaimedJob,
        command: SendNotification,
        kind: domain.Notice,
        channel: Channel,
        address: str,
        status: DeliveryStatus,
        user_id: UUID | None,
        subject: str,
        *,
        reason: str | None = None,
        held_until: datetime | None = None,
    ) -> None:
        """Record where a delivery stands and announce it, once per status."""
        reason = redact_text(reason)[:500] if reason else None
        changed = await repo.record_delivery(
            session,
            {
                "notification_id": command.notification_id,
                "company_id": job.company_id,
                "user_id": user_id,
                "channel": channel.value,
                "template": command.template,
                "address": address[:254],
                "subject": subject[:300],
                "status": status.value,
                "reason": reason,
                "sent_at": self.clock.now(),
            },
        )
        if changed:
            self.engine.emit(
                session,
                job,
                DeliveryStatusChanged(
                    notification_id=command.notification_id,
                    channel=channel,
                    template=command.template,
                    category=kind.category,
                    status=status,
                    user_id=user_id,
                    reason=reason,
                    held_until=held_until,
                ),
                topic=NOTIFY_DELIVERY,
                key=command.notification_id,
            )


def _cause_of(job: JobContext, command: SendNotification) -> Envelope[Any]:
    """Channel jobs continue the deliver job's flow: its correlation, and the
    command that caused it."""
    envelope = job.envelope(command)
    return envelope.model_copy(update={"id": job.job.causation_id or envelope.id})
