"""Every notification reaches the right people once per channel — inbox,
e-mail and web push — as their preferences allow, against the real broker,
database, SMTP server and push service."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

from notify_kit import (
    MailServer,
    PushServer,
    Sender,
    Someone,
    mails_to,
    notification,
    person,
)

from hospeda.contracts import Actor
from hospeda.contracts.identity import CompanyRegistered, CompanyRole
from hospeda.contracts.notify import (
    Category,
    ChangeNotificationSettings,
    Channel,
    ChannelPreference,
    MarkInboxItems,
    Recipient,
    RegisterPushSubscription,
    Unsubscribe,
)
from hospeda.contracts.topics import (
    IDENTITY_COMPANY,
    NOTIFY_COMMANDS,
    NOTIFY_DELIVERY,
    NOTIFY_INBOX,
    NOTIFY_NOTIFICATION,
    NOTIFY_PERSON,
    OPS_COMMAND,
)
from hospeda.devstack.testing import eventually
from hospeda.notify.app import Notify
from hospeda.runtime.broker import publish
from hospeda.runtime.jobs import JobView

INVOICE = {
    "number": "2026-000123",
    "amount_cents": 4990,
    "currency": "BRL",
    "due_date": "10/12/2026",
    "link": "http://localhost:8000/app/faturas/1",
}


async def device_for(
    someone: Someone, send: Sender, push_server: PushServer, ask: Any
) -> dict[str, Any]:
    """A browser of ``someone`` subscribes (at the push service) and registers
    its subscription with notify, as the web app does through the gateway."""
    config = await ask("push.config", {}, actor=someone.actor)
    subscription = push_server.subscribe(config["vapid_public_key"])
    await send(
        RegisterPushSubscription(
            endpoint=subscription["endpoint"],
            p256dh=subscription["keys"]["p256dh"],
            auth_secret=subscription["keys"]["auth"],
            user_agent="Firefox/140 (teste)",
        ),
        NOTIFY_COMMANDS,
        someone.user_id,
        actor=someone.actor,
    )

    async def registered() -> bool:
        devices = await ask("push_subscriptions.list", {}, actor=someone.actor)
        return bool(devices["items"])

    await eventually(registered, message="the device registered")
    return subscription


async def jobs(app: Notify, kind: str) -> list[JobView]:
    async with app.runtime.db.transaction() as session:
        return [j for j in await app.engine.list(session) if j.kind == kind]


async def test_each_notice_reaches_the_right_people_once_per_channel(
    notify_app: Notify,
    send: Sender,
    mail_server: MailServer,
    push_server: PushServer,
    ask: Any,
    watch: Any,
) -> None:
    company = uuid4()
    await send(
        CompanyRegistered(company_id=company, name="Padaria Pão Quente", owner_user_id=uuid4()),
        IDENTITY_COMPANY,
        company,
    )
    owner = await person(send, "Ana Souza", company=company, role=CompanyRole.OWNER)
    billing = await person(
        send, "Bruno Lima", company=company, role=CompanyRole.BILLING, locale="en"
    )
    technical = await person(send, "Carla Dias", company=company, role=CompanyRole.TECHNICAL)
    owner_device = await device_for(owner, send, push_server, ask)
    technical_device = await device_for(technical, send, push_server, ask)
    watcher = await watch(NOTIFY_NOTIFICATION, NOTIFY_INBOX)

    invoice = notification("invoice-issued", **INVOICE)  # to the company: billing notice
    envelope = await send(invoice, NOTIFY_COMMANDS, invoice.notification_id, company_id=company)
    await send(invoice, NOTIFY_COMMANDS, invoice.notification_id, company_id=company)  # resent
    await publish(send.producer, envelope, topic=NOTIFY_COMMANDS, key=company)  # redelivered

    await eventually(lambda: len(mail_server.messages()) == 2, message="two e-mails")
    await eventually(lambda: len(push_server.messages()) == 1, message="the owner's push")
    await asyncio.sleep(1.0)  # give any duplicate every chance to arrive
    assert len(mail_server.messages()) == 2 and len(push_server.messages()) == 1
    [to_owner], [to_billing] = mails_to(mail_server, owner), mails_to(mail_server, billing)
    assert mails_to(mail_server, technical) == []
    assert to_owner["subject"] == "Fatura 2026-000123 emitida"
    assert to_billing["subject"] == "Invoice 2026-000123 issued"
    assert "R$ 49,90" in to_owner["body"] and "R$ 49,90" in to_owner["html"]
    assert '<a href="http://localhost:8000/app/faturas/1">' in to_owner["html"]
    assert "Padaria Pão Quente via Hospeda" in to_owner["from"]
    assert to_owner["list_unsubscribe"] is None  # an invoice is billing-essential
    [push] = push_server.messages(owner_device["id"])
    assert push["payload"]["title"] == "Fatura 2026-000123 emitida"
    assert push["payload"]["url"] == "http://localhost:8000/app/faturas/1"
    assert push["payload"]["tag"] == "invoice-issued:2026-000123"
    assert push["urgency"] == "normal"
    assert push_server.messages(technical_device["id"]) == []

    inbox = await ask("inbox.list", {}, actor=owner.actor)
    assert [i["title"] for i in inbox["items"]] == ["Fatura 2026-000123 emitida"]
    assert inbox["unread"] == 1 and inbox["items"][0]["read"] is False
    assert (await ask("inbox.list", {}, actor=technical.actor))["items"] == []
    sent = await watcher.until("notify.notification.sent", 2)
    assert sorted(e.payload.channel for e in sent) == [Channel.EMAIL, Channel.PUSH]
    created = await watcher.until("notify.inbox.item_created", 2)
    assert sorted(str(e.payload.user_id) for e in created) == sorted(
        [str(owner.user_id), str(billing.user_id)]
    )
    [deliver] = await jobs(notify_app, "deliver")
    assert deliver.state == "succeeded"


async def test_marking_inbox_items_changes_only_ones_own(
    notify_app: Notify, send: Sender, mail_server: MailServer, ask: Any, watch: Any
) -> None:
    company = uuid4()
    owner = await person(send, "Ana Souza", company=company, role=CompanyRole.OWNER)
    other = await person(send, "Davi Rocha", company=company, role=CompanyRole.TECHNICAL)
    for domain in ("loja.com.br", "blog.com.br"):
        notice = notification("delegation-verified", domain=domain)
        await send(notice, NOTIFY_COMMANDS, notice.notification_id, company_id=company)

    async def items(who: Someone) -> list[dict[str, Any]]:
        return list((await ask("inbox.list", {"state": "inbox"}, actor=who.actor))["items"])

    await eventually(lambda: _count(items(owner), 2), message="two items for the owner")
    await eventually(lambda: _count(items(other), 2), message="two items for the other")
    watcher = await watch(NOTIFY_INBOX)
    mine, theirs = await items(owner), await items(other)
    await send(
        MarkInboxItems(item_ids=(mine[0]["id"], theirs[0]["id"]), read=True),
        NOTIFY_COMMANDS,
        owner.user_id,
        actor=owner.actor,
    )
    await eventually(lambda: _unread(ask, owner, 1), message="one of the owner's items read")
    await send(
        MarkInboxItems(item_ids=(mine[1]["id"],), archived=True),
        NOTIFY_COMMANDS,
        owner.user_id,
        actor=owner.actor,
    )
    archived = lambda: ask("inbox.list", {"state": "archived"}, actor=owner.actor)  # noqa: E731
    await eventually(lambda: _count(_items(archived()), 1), message="one archived")
    assert all(not i["read"] for i in await items(other))  # the other person's item is untouched
    marked = await watcher.until("notify.inbox.item_marked", 2)
    assert {(str(e.payload.item_id), e.payload.read, e.payload.archived) for e in marked} == {
        (mine[0]["id"], True, False),
        (mine[1]["id"], False, True),
    }


async def test_an_unsubscribed_category_is_not_sent_and_a_security_notice_still_is(
    notify_app: Notify,
    send: Sender,
    mail_server: MailServer,
    ask: Any,
    watch: Any,
) -> None:
    company = uuid4()
    owner = await person(send, "Ana Souza", company=company, role=CompanyRole.OWNER)
    active = notification("service-active", domain="loja.com.br", username="loja")
    await send(active, NOTIFY_COMMANDS, active.notification_id, company_id=company)
    await eventually(lambda: len(mail_server.messages()) == 1, message="the service e-mail")
    [mail] = mail_server.messages()
    assert mail["list_unsubscribe_post"] == "List-Unsubscribe=One-Click"
    url = mail["list_unsubscribe"].strip("<>")
    assert url.startswith("http://localhost:8000/api/v1/notifications/unsubscribe?token=")
    assert url in mail["body"]  # also in the footer, for people who read it
    token = parse_qs(urlsplit(url).query)["token"][0]
    assert await ask("unsubscribe.check", {"token": token}, actor=Actor.system("gateway")) == {
        "category": "service"
    }
    watcher = await watch(NOTIFY_PERSON, NOTIFY_DELIVERY, OPS_COMMAND)
    # the mail client's one-click POST, through the gateway
    await send(Unsubscribe(token=token), NOTIFY_COMMANDS, None)

    async def unsubscribed() -> bool:
        settings = await ask("notification_settings.get", {}, actor=owner.actor)
        return {"category": "service", "channel": "email", "enabled": False, "locked": False} in (
            settings["preferences"]
        )

    await eventually(unsubscribed, message="service e-mails off")
    # security and legal stay on, whatever is asked
    await send(
        ChangeNotificationSettings(
            preferences=(
                ChannelPreference(category=Category.SECURITY, channel=Channel.EMAIL, enabled=False),
            )
        ),
        NOTIFY_COMMANDS,
        owner.user_id,
        actor=owner.actor,
    )
    lost = notification("delegation-lost", domain="loja.com.br", nameservers="ns1")
    reset = notification(
        "password-reset", Recipient(user_id=owner.user_id), name="Ana", link="http://x/r"
    )
    bill = notification("invoice-overdue", **INVOICE, days_overdue=3)
    await send(
        ChangeNotificationSettings(
            preferences=(
                ChannelPreference(category=Category.BILLING, channel=Channel.EMAIL, enabled=False),
            )
        ),
        NOTIFY_COMMANDS,
        owner.user_id,
        actor=owner.actor,
    )
    for notice in (lost, reset, bill):
        await send(notice, NOTIFY_COMMANDS, notice.notification_id, company_id=company)
    await eventually(lambda: len(mail_server.messages()) == 3, message="reset and invoice e-mails")
    subjects = sorted(m["subject"] for m in mail_server.messages())
    assert subjects == [
        "Fatura 2026-000123 em atraso",  # billing-essential: e-mailed though billing is off
        "Redefinição de senha",  # security: always
        "Sua hospedagem loja.com.br está no ar",
    ]
    inbox = await ask("inbox.list", {}, actor=owner.actor)
    assert "loja.com.br deixou de apontar para a Hospeda" in [i["title"] for i in inbox["items"]]

    async def skipped() -> bool:
        return any(
            e.payload.notification_id == lost.notification_id and e.payload.status == "skipped"
            for e in await watcher.of_type("notify.delivery.status_changed")
        )

    await eventually(skipped, message="the skipped delivery announced")
    refused = await watcher.until("ops.command.rejected")
    assert refused and "cannot be turned off" in refused[0].payload.reason
    changed = await watcher.until("notify.person.settings_changed")
    assert changed[0].payload.via == "unsubscribe"


async def test_smtp_down_retries_then_sends(
    database_url: str, kafka_bootstrap: str, mail_server: MailServer, send: Sender
) -> None:
    from notify_kit import notify_settings

    from hospeda.notify.app import create_app

    app = create_app(
        notify_settings(database_url, kafka_bootstrap, mail_server, retry_max_attempts=8)
    )
    await app.runtime.start()
    try:
        mail_server.stop_accepting()
        notice = notification(
            "password-reset", Recipient(email="user@example.com", name="User"), link="http://x/r"
        )
        await send(notice, NOTIFY_COMMANDS, notice.notification_id)

        async def retried() -> bool:
            return any(j.attempts >= 2 for j in await jobs(app, "email"))

        await eventually(retried, message="the e-mail retried while SMTP is down")
        assert mail_server.messages() == []
        mail_server.accept_again()
        await eventually(lambda: len(mail_server.messages()) == 1, message="sent once SMTP is back")
        [job] = await jobs(app, "email")
        await eventually(lambda: _succeeded(app), message="the job succeeded")
        assert job.attempts >= 2
    finally:
        await app.runtime.stop()


async def test_a_gone_subscription_is_removed(
    notify_app: Notify,
    send: Sender,
    mail_server: MailServer,
    push_server: PushServer,
    ask: Any,
    watch: Any,
) -> None:
    company = uuid4()
    owner = await person(send, "Ana Souza", company=company, role=CompanyRole.OWNER)
    kept = await device_for(owner, send, push_server, ask)
    dropped = await device_for(owner, send, push_server, ask)
    push_server.unsubscribe(dropped["id"])  # the browser dropped it: the service answers 410
    watcher = await watch(NOTIFY_PERSON)
    notice = notification("service-active", domain="loja.com.br")
    await send(notice, NOTIFY_COMMANDS, notice.notification_id, company_id=company)
    await eventually(lambda: len(push_server.messages(kept["id"])) == 1, message="pushed")

    async def one_device_left() -> bool:
        devices = await ask("push_subscriptions.list", {}, actor=owner.actor)
        return len(devices["items"]) == 1

    await eventually(one_device_left, message="the gone device removed")
    removed = await watcher.until("notify.push.subscription_removed")
    assert len(removed) == 1 and "410" in removed[0].payload.reason


async def test_control_characters_never_break_delivery(
    notify_app: Notify, send: Sender, mail_server: MailServer
) -> None:
    company = uuid4()
    await person(send, "Ana\r\nBcc: intruso@exemplo.com", company=company, role=CompanyRole.OWNER)
    notice = notification("delegation-verified", domain="loja.com.br\r\nBcc: x@y\x1b[2J")
    await send(notice, NOTIFY_COMMANDS, notice.notification_id, company_id=company)
    await eventually(lambda: len(mail_server.messages()) == 1, message="delivered")
    [mail] = mail_server.messages()
    assert "Bcc" not in mail["headers"]
    assert "intruso" not in (mail["envelope_to"] or "")
    assert "\x1b" not in mail["subject"] and "\\u001b" in mail["subject"]
    assert "\n" not in mail["subject"]


async def _count(items: Any, n: int) -> bool:
    return len(await items) == n


async def _items(answer: Any) -> list[Any]:
    return list((await answer)["items"])


async def _unread(ask: Any, who: Someone, n: int) -> bool:
    return (await ask("inbox.list", {}, actor=who.actor))["unread"] == n


async def _succeeded(app: Notify) -> bool:
    return all(j.state == "succeeded" for j in await jobs(app, "email"))
