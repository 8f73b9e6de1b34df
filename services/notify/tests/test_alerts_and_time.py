"""Time-driven rules with a clock the test moves: quiet hours hold a push
until morning, operator alerts reach on-duty staff once per window and then
as a digest; and a provisioning failure reaches the customer in plain words."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from notify_kit import (
    MailServer,
    PushServer,
    Sender,
    mails_to,
    notification,
    notify_settings,
    person,
)
from test_channels import device_for

from hospeda.contracts import new_id
from hospeda.contracts.identity import CompanyRole
from hospeda.contracts.notify import ChangeNotificationSettings
from hospeda.contracts.ops import OperatorAlertRaised, Severity
from hospeda.contracts.provisioning import ServiceProvisioningFailed
from hospeda.contracts.topics import NOTIFY_COMMANDS, OPS_ALERT, PROVISIONING_SERVICE
from hospeda.devstack.testing import eventually
from hospeda.notify.app import Notify, create_app
from hospeda.runtime.clock import ManualClock

# 23:30 in São Paulo (UTC-3)
LATE_EVENING = datetime(2026, 6, 16, 2, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(LATE_EVENING)


@pytest.fixture
async def timed_notify(
    database_url: str, kafka_bootstrap: str, mail_server: MailServer, clock: ManualClock
) -> AsyncIterator[Notify]:
    settings = notify_settings(database_url, kafka_bootstrap, mail_server, alert_window_s=600)
    app = create_app(settings, clock=clock)
    await app.runtime.start()
    yield app
    await app.runtime.stop()


async def test_quiet_hours_hold_a_push_until_morning(
    timed_notify: Notify,
    send: Sender,
    mail_server: MailServer,
    push_server: PushServer,
    ask: Any,
    clock: ManualClock,
) -> None:
    company = uuid4()
    owner = await person(send, "Ana Souza", company=company, role=CompanyRole.OWNER)
    device = await device_for(owner, send, push_server, ask)
    await send(
        ChangeNotificationSettings(
            time_zone="America/Sao_Paulo", quiet_hours_start="22:00", quiet_hours_end="07:00"
        ),
        NOTIFY_COMMANDS,
        owner.user_id,
        actor=owner.actor,
    )

    async def quiet() -> bool:
        settings = await ask("notification_settings.get", {}, actor=owner.actor)
        return bool(settings["quiet_hours_start"] == "22:00")

    await eventually(quiet, message="quiet hours set")
    notice = notification("service-active", domain="loja.com.br")
    await send(notice, NOTIFY_COMMANDS, notice.notification_id, company_id=company)
    await eventually(lambda: len(mail_server.messages()) == 1, message="the e-mail goes at once")

    async def held_push() -> Any:
        async with timed_notify.runtime.db.transaction() as session:
            found = [j for j in await timed_notify.engine.list(session) if j.kind == "push"]
        return found[0] if found else None

    await eventually(held_push, message="a push job waiting")
    job = await held_push()
    assert job.state == "queued"
    assert job.run_at == datetime(2026, 6, 16, 10, 0, tzinfo=UTC)  # 07:00 in São Paulo
    assert push_server.messages() == []

    await eventually(lambda: idle(timed_notify), message="nothing running")
    clock.set(datetime(2026, 6, 16, 10, 0, 1, tzinfo=UTC))  # morning
    await eventually(lambda: len(push_server.messages(device["id"])) == 1, message="the push")
    [push] = push_server.messages(device["id"])
    assert push["payload"]["title"] == "Sua hospedagem loja.com.br está no ar"


async def idle(app: Notify) -> bool:
    """No job in flight: jumping the clock now expires no lease (which would
    run a job twice, as a crashed worker's would be)."""
    async with app.runtime.db.transaction() as session:
        return not any(j.state == "running" for j in await app.engine.list(session))


def alert(summary: str, job_kind: str = "create-account", **details: Any) -> OperatorAlertRaised:
    return OperatorAlertRaised(
        alert_id=new_id(),
        severity=Severity.CRITICAL,
        source="provisioning",
        summary=summary,
        details={"job_id": str(new_id()), "kind": job_kind, **details},
    )


async def test_an_operator_alert_reaches_the_on_duty_staff_once_per_window(
    timed_notify: Notify,
    send: Sender,
    mail_server: MailServer,
    push_server: PushServer,
    ask: Any,
    clock: ManualClock,
) -> None:
    operator = await person(send, "Otávio Operador", staff="operator")
    resting = await person(send, "Rita Folga", staff="operator")
    support = await person(send, "Sara Suporte", staff="support")
    customer = await person(send, "Ana Souza", company=uuid4(), role=CompanyRole.OWNER)
    device = await device_for(operator, send, push_server, ask)
    await send(
        ChangeNotificationSettings(on_duty=False),
        NOTIFY_COMMANDS,
        resting.user_id,
        actor=resting.actor,
    )

    async def off_duty() -> bool:
        return (await ask("notification_settings.get", {}, actor=resting.actor))["on_duty"] is False

    await eventually(off_duty, message="Rita off duty")
    first = alert("Job create-account falhou / failed: WHM não respondeu")
    await send(first, OPS_ALERT, "provisioning")
    for n in range(3):  # the same problem again within the window
        clock.advance(timedelta(seconds=30))
        await send(alert(f"Job create-account falhou / failed #{n}"), OPS_ALERT, "provisioning")
    await eventually(lambda: len(mail_server.messages()) == 1, message="one notice")
    await eventually(lambda: len(push_server.messages(device["id"])) == 1, message="one push")
    [mail] = mails_to(mail_server, operator)
    assert mail["subject"] == "[critical] Job create-account falhou / failed: WHM não respondeu"
    job_link = f"http://localhost:8000/app/equipe/tarefas/provisioning/{first.details['job_id']}"
    assert job_link in mail["body"]
    [push] = push_server.messages(device["id"])
    assert push["urgency"] == "high" and push["payload"]["url"] == job_link
    assert mails_to(mail_server, resting) == [] and mails_to(mail_server, support) == []
    assert (await ask("inbox.list", {}, actor=customer.actor))["items"] == []

    await eventually(lambda: idle(timed_notify), message="nothing running")
    clock.advance(timedelta(minutes=10))  # the window closes: one digest of the other three
    await eventually(lambda: len(mail_server.messages()) == 2, message="the digest")
    digest = next(m for m in mail_server.messages() if m["id"] != mail["id"])
    assert digest["subject"] == "Mais 3 alerta(s): provisioning:create-account"
    assert "failed #2" in digest["body"]
    inbox = await ask("inbox.list", {}, actor=operator.actor)
    assert len(inbox["items"]) == 2

    await eventually(lambda: idle(timed_notify), message="nothing running")
    clock.advance(timedelta(minutes=1))  # a new window: the next alert is told at once
    await send(alert("Job create-account falhou de novo / failed again"), OPS_ALERT, "provisioning")
    await eventually(lambda: len(mail_server.messages()) == 3, message="a new window's notice")


async def test_a_provisioning_failure_reaches_the_customer_in_plain_words(
    timed_notify: Notify, send: Sender, mail_server: MailServer
) -> None:
    company = uuid4()
    owner = await person(send, "Ana Souza", company=company, role=CompanyRole.OWNER)
    technical = await person(send, "Carla Dias", company=company, role=CompanyRole.TECHNICAL)
    billing = await person(send, "Bruno Lima", company=company, role=CompanyRole.BILLING)
    service_id, job_id = uuid4(), uuid4()
    failure = ServiceProvisioningFailed(
        service_id=service_id,
        job_id=job_id,
        reason="WhmError: createacct: 500 Internal Server Error",
        job_kind="create-account",
        domain="paoquente.com.br",
    )
    await send(failure, PROVISIONING_SERVICE, service_id, company_id=company)
    await send(failure, PROVISIONING_SERVICE, service_id, company_id=company)  # again: once
    addon = ServiceProvisioningFailed(
        service_id=service_id,
        job_id=uuid4(),
        reason="timeout",
        job_kind="enable-addon",
        domain="paoquente.com.br",
        addon_code="backup-pro",
    )
    await send(addon, PROVISIONING_SERVICE, service_id, company_id=company)
    suspend = ServiceProvisioningFailed(
        service_id=service_id, job_id=uuid4(), reason="x", job_kind="suspend-account"
    )
    await send(suspend, PROVISIONING_SERVICE, service_id, company_id=company)
    await eventually(lambda: len(mail_server.messages()) == 4, message="two notices, two people")
    for someone in (owner, technical):
        subjects = sorted(m["subject"] for m in mails_to(mail_server, someone))
        assert subjects == [
            "A ativação de paoquente.com.br está atrasada",
            "Não conseguimos ativar backup-pro em paoquente.com.br ainda",
        ]
    assert mails_to(mail_server, billing) == []
    body = mails_to(mail_server, owner)[0]["body"]
    assert "equipe técnica já foi avisada" in body
    assert "WhmError" not in body and "500" not in body
