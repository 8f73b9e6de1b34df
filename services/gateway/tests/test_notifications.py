"""Notifications through the gateway: a person's inbox items reach their own
live stream only, the one-click unsubscribe works without a session, and the
settings a person sends are checked before they reach notify."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from aiokafka import AIOKafkaProducer
from gateway_kit import EventStream, Harness, expect, read_topic

from hospeda.contracts import Actor, Envelope, new_id, utcnow
from hospeda.contracts.identity import CompanyRole
from hospeda.contracts.notify import Category, InboxItemCreated
from hospeda.contracts.topics import NOTIFY_COMMANDS, NOTIFY_INBOX
from hospeda.runtime.broker import publish


def item_for(user_id: object) -> InboxItemCreated:
    return InboxItemCreated(
        item_id=new_id(),
        user_id=user_id,  # type: ignore[arg-type]
        notification_id=new_id(),
        template="invoice-issued",
        category=Category.BILLING,
        title="Fatura 2026-000123 emitida",
        body="Sua fatura vence em 10/12/2026.",
        url="http://localhost:8000/app/faturas/1",
        created_at=utcnow(),
    )


async def test_an_inbox_item_reaches_only_its_persons_stream(harness: Harness) -> None:
    alice = await harness.sign_up(company="Padaria")
    colleague = await harness.invite(alice, CompanyRole.BILLING)  # same company, other person
    await harness.server.events_ready()
    mine, theirs = EventStream(alice.browser), EventStream(colleague.browser)
    producer = AIOKafkaProducer(bootstrap_servers=harness.bootstrap)
    await producer.start()
    try:
        for stream in (mine, theirs):
            await asyncio.wait_for(stream.opened.wait(), 20)
        envelope = Envelope.of(
            item_for(alice.user_id), actor=Actor.system("notify"), company_id=alice.company_id
        )
        await publish(producer, envelope, topic=NOTIFY_INBOX, key=alice.user_id)
        staff_notice = Envelope.of(item_for(alice.user_id), actor=Actor.system("notify"))
        await publish(producer, staff_notice, topic=NOTIFY_INBOX, key=alice.user_id)  # no company
        got = await mine.wait_for(lambda e: e.get("id") == str(staff_notice.id), "the items")
        assert got["event"] == "notify.inbox.item_created"
        assert got["data"]["payload"]["title"] == "Fatura 2026-000123 emitida"
        assert str(envelope.id) in [e["id"] for e in mine.events]
        marker = Envelope.of(
            item_for(colleague.user_id), actor=Actor.system("notify"), company_id=alice.company_id
        )
        await publish(producer, marker, topic=NOTIFY_INBOX, key=colleague.user_id)
        await theirs.wait_for(lambda e: e.get("id") == str(marker.id), "the colleague's item")
        assert [e["id"] for e in theirs.events if e["event"].startswith("notify.")] == [
            str(marker.id)
        ]
    finally:
        for stream in (mine, theirs):
            await stream.close()
        await producer.stop()


async def test_one_click_unsubscribe_needs_no_session_and_is_audited(harness: Harness) -> None:
    harness.peers.errors.pop("unsubscribe.check", None)
    browser = harness.browser()
    token = "token-de-descadastro-" + uuid4().hex
    page = await browser.get(f"/api/v1/notifications/unsubscribe?token={token}")
    assert page.status_code == 200 and "method='post'" in page.text
    answer = expect(
        await browser.request(
            "POST",
            f"/api/v1/notifications/unsubscribe?token={token}",
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        200,
    )
    assert answer == {"status": "unsubscribed", "category": "marketing"}
    sent = await read_topic(
        harness.bootstrap,
        NOTIFY_COMMANDS.name,
        until=lambda ms: any(m.type == "notify.unsubscribe" for m in ms),
        what="the unsubscribe command",
    )
    assert [m.payload.token for m in sent if m.type == "notify.unsubscribe"] == [token]
    assert harness.server.gateway.unaudited == []

    harness.peers.errors["unsubscribe.check"] = ("not_found", "link inválido")
    forged = await browser.request("POST", "/api/v1/notifications/unsubscribe?token=forjado-123")
    assert forged.status_code == 404


async def test_security_notices_cannot_be_turned_off_through_the_api(harness: Harness) -> None:
    owner = await harness.sign_up()
    refused = await owner.browser.put(
        "/api/v1/me/notification-settings",
        json={"preferences": [{"category": "security", "channel": "email", "enabled": False}]},
    )
    assert refused.status_code == 422
    bad_zone = await owner.browser.put(
        "/api/v1/me/notification-settings", json={"time_zone": "Marte/Olympus"}
    )
    assert bad_zone.status_code == 422
    accepted = expect(
        await owner.browser.put(
            "/api/v1/me/notification-settings",
            json={"quiet_hours": {"start": "22:00", "end": "07:00"}},
        ),
        202,
    )
    assert accepted["status"] == "accepted"
    remote = await owner.browser.post(
        "/api/v1/push/subscriptions",
        json={"endpoint": "http://10.0.0.5/push", "keys": {"p256dh": "B" * 87, "auth": "A" * 22}},
    )
    assert remote.status_code == 422  # plain HTTP only to this machine
