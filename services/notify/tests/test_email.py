"""Notifications reach a real SMTP server, in the recipient's language, once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from notify_kit import MailServer, notify_runtime

from hospeda.contracts import Actor, Envelope, Payload, Topic, decode
from hospeda.contracts.identity import CompanyRole, MembershipGranted, UserRegistered
from hospeda.contracts.notify import Channel, Recipient, SendNotification
from hospeda.contracts.topics import IDENTITY_USER, NOTIFY_COMMANDS, NOTIFY_NOTIFICATION
from hospeda.devstack.testing import eventually
from hospeda.notify.templates import format_money, render
from hospeda.runtime.broker import publish
from hospeda.runtime.errors import PermanentError
from hospeda.runtime.service import ServiceRuntime

GATEWAY = Actor.system("gateway")


@pytest.fixture
async def notify(
    database_url: str, kafka_bootstrap: str, mail_server: MailServer
) -> AsyncIterator[ServiceRuntime]:
    runtime = notify_runtime(database_url, kafka_bootstrap, mail_server)
    await runtime.start()
    yield runtime
    await runtime.stop()


@pytest.fixture
async def send(kafka_bootstrap: str) -> AsyncIterator[Any]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()

    async def send_message(
        payload: Payload, topic: Topic, key: Any, company_id: UUID | None = None
    ) -> Envelope[Any]:
        envelope = Envelope.of(payload, actor=GATEWAY, company_id=company_id)
        await publish(producer, envelope, topic=topic, key=key)
        return envelope

    yield send_message
    await producer.stop()


async def results(bootstrap: str, expect: int) -> list[Envelope[Any]]:
    consumer = AIOKafkaConsumer(
        NOTIFY_NOTIFICATION.name, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[Envelope[Any]] = []
    try:
        for _ in range(100):
            for records in (await consumer.getmany(timeout_ms=200)).values():
                found.extend(decode(r.value) for r in records)
            if len(found) >= expect:
                break
    finally:
        await consumer.stop()
    return found


async def test_the_billing_members_of_a_company_get_the_invoice_email(
    notify: ServiceRuntime, send: Any, mail_server: MailServer, kafka_bootstrap: str
) -> None:
    company = uuid4()
    owner, viewer = uuid4(), uuid4()
    await send(
        UserRegistered(user_id=owner, email="dona@exemplo.com.br", name="Ana Souza"),
        IDENTITY_USER,
        owner,
    )
    await send(
        UserRegistered(user_id=viewer, email="viewer@exemplo.com.br", name="Vic", locale="en"),
        IDENTITY_USER,
        viewer,
    )
    await send(
        MembershipGranted(user_id=owner, company_id=company, role=CompanyRole.OWNER),
        IDENTITY_USER,
        owner,
    )
    await send(
        MembershipGranted(user_id=viewer, company_id=company, role=CompanyRole.VIEWER),
        IDENTITY_USER,
        viewer,
    )
    notification = SendNotification(
        notification_id=uuid4(),
        channel=Channel.EMAIL,
        template="invoice-issued",
        recipient=Recipient(company_roles=("owner", "billing")),
        data={
            "number": "2026-000123",
            "amount_cents": 4990,
            "currency": "BRL",
            "due_date": "10/12/2026",
            "link": "http://localhost:8000/faturas/1",
        },
    )
    await send(notification, NOTIFY_COMMANDS, notification.notification_id, company_id=company)

    await eventually(lambda: len(mail_server.messages()) == 1, message="the invoice e-mail")
    mail = mail_server.messages()[0]
    assert mail["subject"] == "Fatura 2026-000123 emitida"
    assert "Ana Souza <dona@exemplo.com.br>" in mail["to"]
    assert "R$ 49,90" in mail["body"]
    assert "http://localhost:8000/faturas/1" in mail["body"]
    assert mail["notification_id"] == str(notification.notification_id)
    sent = await results(kafka_bootstrap, expect=1)
    assert [(e.type, e.payload.notification_id) for e in sent] == [
        ("notify.notification.sent", notification.notification_id)
    ]
    assert sent[0].company_id == company


async def test_a_temporary_smtp_failure_is_retried_and_the_same_notification_is_sent_once(
    notify: ServiceRuntime, send: Any, mail_server: MailServer
) -> None:
    mail_server.fail_next(1, code=451)
    notification = SendNotification(
        notification_id=uuid4(),
        channel=Channel.EMAIL,
        template="password-reset",
        locale="en",
        recipient=Recipient(email="user@example.com", name="User"),
        data={"name": "User", "link": "http://localhost:8000/reset/abc", "expires_minutes": 30},
    )
    await send(notification, NOTIFY_COMMANDS, notification.notification_id)
    await send(
        notification, NOTIFY_COMMANDS, notification.notification_id
    )  # the sender retried: a new message id
    await eventually(
        lambda: len(mail_server.messages()) == 1, message="the reset e-mail after a retry"
    )
    await asyncio.sleep(1.0)  # give a duplicate every chance to arrive
    messages = mail_server.messages()
    assert len(messages) == 1
    assert messages[0]["subject"] == "Password reset"
    assert "valid for 30 minutes" in messages[0]["body"]


async def test_a_refused_address_fails_the_notification_with_the_reason(
    notify: ServiceRuntime, send: Any, mail_server: MailServer, kafka_bootstrap: str
) -> None:
    mail_server.fail_next(1, code=550)
    notification = SendNotification(
        notification_id=uuid4(),
        channel=Channel.EMAIL,
        template="verify-email",
        recipient=Recipient(email="nobody@example.com"),
        data={"link": "x"},
    )
    await send(notification, NOTIFY_COMMANDS, notification.notification_id)
    events = await results(kafka_bootstrap, expect=1)
    assert [e.type for e in events] == ["notify.notification.failed"]
    assert "550" in events[0].payload.reason
    assert mail_server.messages() == []


def test_templates_speak_portuguese_first_and_english_on_request() -> None:
    pt = render(
        "delegation-instructions",
        "pt-BR",
        {"domain": "loja.com.br", "nameservers": "ns1.hospeda.com.br"},
    )
    en = render(
        "delegation-instructions",
        "en",
        {"domain": "loja.com.br", "nameservers": "ns1.hospeda.com.br"},
    )
    assert pt.subject == "Aponte loja.com.br para a Hospeda"
    assert en.subject == "Point loja.com.br to Hospeda"
    assert render("invoice-paid", "es", {"number": "1"}).subject.startswith("Pagamento recebido")
    with pytest.raises(PermanentError, match="unknown notification template"):
        render("no-such-template", "pt-BR", {})


@pytest.mark.parametrize(
    ("cents", "locale", "text"),
    [
        (4990, "pt-BR", "R$ 49,90"),
        (123456789, "pt-BR", "R$ 1.234.567,89"),
        (-500, "pt-BR", "-R$ 5,00"),
        (4990, "en", "R$49.90"),
    ],
)
def test_money_is_formatted_from_integer_cents(cents: int, locale: str, text: str) -> None:
    assert format_money(cents, "BRL", locale) == text
