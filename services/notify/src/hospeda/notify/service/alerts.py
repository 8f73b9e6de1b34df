"""Failures that must reach a person: operator alerts for the on-duty staff,
and, when provisioning gives up on something a customer paid for, the
customer — in plain words, with what happens next."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from hospeda.contracts import Envelope
from hospeda.contracts.notify import Channel, Recipient, SendNotification
from hospeda.contracts.ops import OperatorAlertRaised
from hospeda.contracts.provisioning import ServiceProvisioningFailed
from hospeda.notify import domain
from hospeda.notify import repository as repo
from hospeda.notify.service.delivery import Notifier
from hospeda.runtime.jobs import JobContext, RetryPolicy
from hospeda.runtime.messaging import MessageContext

_IDS = UUID("6f1d9a52-2b0e-4f7c-9c41-1d5e8b7a3c20")
"""Namespace of the notification ids derived here: the same fact, the same id."""

MAX_SAMPLES = 20
"""Alerts listed in a digest (the count covers the rest)."""

CUSTOMER_NOTICES = {
    "create-account": "provisioning-failed",
    "enable-addon": "addon-failed",
    "change-addon": "addon-failed",
}
"""Provisioning jobs a customer waits for (after paying), and what they are told
when one gives up."""


class Alerts:
    """Operator alerts, paced per key, and failure notices for customers."""

    def __init__(self, notifier: Notifier, *, window: timedelta) -> None:
        self.notifier = notifier
        self.window = window
        notifier.engine.kind("alert-digest", queue="notify", policy=RetryPolicy())(self._digest)

    async def alert_raised(self, ctx: MessageContext) -> None:
        """Tell the on-duty staff now, or count it for the window's digest."""
        alert: OperatorAlertRaised = ctx.message.payload
        key = domain.alert_key(alert.source, alert.details)
        now = self.notifier.clock.now()
        window = await repo.alert_window(ctx.session, key)
        pace = domain.pace_alert(now, window.started_at, self.window)
        link = self.notifier.links.alert(alert.source, alert.details)
        if pace.notify_now:
            window.started_at, window.suppressed, window.samples = now, 0, []
            data = {
                "severity": alert.severity.value,
                "summary": alert.summary,
                "source": alert.source,
                "alert_key": key,
                "details": "\n".join(f"{k}: {v}" for k, v in sorted(alert.details.items())),
                "link": link,
                "window_minutes": int(self.window.total_seconds() // 60),
            }
            await self._tell_staff(ctx, "ops-alert", f"alert:{alert.alert_id}", data)
            return
        window.suppressed += 1
        if len(window.samples) < MAX_SAMPLES:
            window.samples = [*window.samples, {"summary": alert.summary[:300], "link": link}]
        await self.notifier.engine.enqueue(
            ctx.session,
            "alert-digest",
            {"alert_key": key, "window_started_at": pace.window_started_at.isoformat()},
            dedupe_key=f"digest:{key}:{pace.window_started_at.isoformat()}",
            run_at=pace.digest_at,
            cause=_platform(ctx.message),
        )

    async def _digest(self, job: JobContext) -> None:
        key = job.payload["alert_key"]
        started = datetime.fromisoformat(job.payload["window_started_at"])
        async with job.transaction() as session:
            window = await repo.alert_window(session, key)
            if window.started_at != started or not window.suppressed:
                return  # a new window began, or its digest already went
            count, samples = window.suppressed, list(window.samples)
            window.suppressed, window.samples = 0, []
            items = "\n".join(f"- {s['summary']} ({s['link']})" for s in samples)
            if count > len(samples):
                items += f"\n- … (+{count - len(samples)})"
            data = {
                "count": count,
                "alert_key": key,
                "items": items,
                "link": samples[0]["link"] if samples else self.notifier.links.alert("", {}),
            }
            command = _command(
                "ops-alert-digest", f"digest:{key}:{started.isoformat()}", data, _staff()
            )
            await self.notifier.send(session, command, cause=job.envelope(command))

    async def _tell_staff(
        self, ctx: MessageContext, template: str, fact: str, data: dict[str, Any]
    ) -> None:
        command = _command(template, fact, data, _staff())
        await self.notifier.send(ctx.session, command, cause=_platform(ctx.message))

    async def provisioning_failed(self, ctx: MessageContext) -> None:
        """The customer hears that the team knows and what comes next; the
        technical reason stays with the operators."""
        failure: ServiceProvisioningFailed = ctx.message.payload
        template = CUSTOMER_NOTICES.get(failure.job_kind or "")
        if template is None or ctx.message.company_id is None:
            return  # nothing the customer waits for (a suspension, a package change…)
        data = {
            "domain": failure.domain or "",
            "addon": failure.addon_code or "",
            "service_id": str(failure.service_id),
            "link": self.notifier.links.service(failure.service_id),
        }
        command = _command(template, f"{template}:{failure.job_id}", data, Recipient())
        await self.notifier.send(ctx.session, command, cause=ctx.message)


def _staff() -> Recipient:
    return Recipient(staff_roles=domain.ALERT_STAFF_ROLES)


def _command(
    template: str, fact: str, data: dict[str, Any], recipient: Recipient
) -> SendNotification:
    return SendNotification(
        notification_id=uuid5(_IDS, fact),
        channel=Channel.EMAIL,
        template=template,
        recipient=recipient,
        data={
            k: v if isinstance(v, str | int | bool) or v is None else str(v)
            for k, v in data.items()
        },
    )


def _platform(message: Envelope[Any]) -> Envelope[Any]:
    """The alert's flow without its company: what staff are told is no
    customer's (it must never show in a company's notifications)."""
    return message.model_copy(update={"company_id": None})
