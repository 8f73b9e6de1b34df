"""The web push adapter against the local push service: RFC 8291 payloads
decrypted with the subscription's keys, VAPID checked, refusals mapped."""

from __future__ import annotations

import pytest
from notify_kit import PushServer

from hospeda.notify.adapters.webpush import (
    Device,
    Push,
    PushRefused,
    SubscriptionGone,
    WebPusherClient,
)
from hospeda.notify.config import NotifySettings
from hospeda.notify.vapid import generate_vapid_key, vapid_public_key
from hospeda.runtime.errors import PermanentError


def a_push(**overrides: object) -> Push:
    values: dict[str, object] = {
        "title": "Fatura 2026-000123 emitida",
        "body": "Sua fatura de R$ 49,90 vence em 10/12/2026.",
        "url": "http://localhost:8000/app/faturas/1",
        "tag": "invoice-issued:2026-000123",
        "urgency": "normal",
        "topic": "aW52b2ljZS1pc3N1ZWQ",
        "ttl": 60,
        "data": {"notification_id": "n-1"},
    }
    return Push(**{**values, **overrides})  # type: ignore[arg-type]


def client(key: str) -> WebPusherClient:
    return WebPusherClient(NotifySettings(HOSPEDA_ENV="test", vapid_private_key=key))


def device_of(subscription: dict[str, object]) -> Device:
    keys = subscription["keys"]
    assert isinstance(keys, dict)
    return Device(str(subscription["endpoint"]), keys["p256dh"], keys["auth"])


async def test_a_push_arrives_encrypted_and_is_decrypted_with_the_subscription_keys(
    push_server: PushServer,
) -> None:
    key = generate_vapid_key()
    subscription = push_server.subscribe(vapid_public_key(key))
    pusher = client(key)
    try:
        await pusher.send(device_of(subscription), a_push())
    finally:
        await pusher.close()
    [message] = push_server.messages(subscription["id"])
    assert message["payload"]["title"] == "Fatura 2026-000123 emitida"
    assert message["payload"]["url"] == "http://localhost:8000/app/faturas/1"
    assert message["payload"]["tag"] == "invoice-issued:2026-000123"
    assert message["urgency"] == "normal"
    assert message["topic"] == "aW52b2ljZS1pc3N1ZWQ"
    assert message["subject"] == "mailto:operacao@hospeda.localhost"


async def test_a_push_signed_with_another_key_is_refused(push_server: PushServer) -> None:
    subscription = push_server.subscribe(vapid_public_key(generate_vapid_key()))
    pusher = client(generate_vapid_key())
    try:
        with pytest.raises(PermanentError, match="403"):
            await pusher.send(device_of(subscription), a_push())
    finally:
        await pusher.close()
    assert push_server.messages(subscription["id"]) == []


async def test_gone_subscriptions_and_temporary_refusals_are_told_apart(
    push_server: PushServer,
) -> None:
    key = generate_vapid_key()
    subscription = push_server.subscribe(vapid_public_key(key))
    pusher = client(key)
    try:
        push_server.fail_next(1, status=429)
        with pytest.raises(PushRefused):
            await pusher.send(device_of(subscription), a_push())
        push_server.unsubscribe(subscription["id"])
        with pytest.raises(SubscriptionGone, match="410"):
            await pusher.send(device_of(subscription), a_push())
    finally:
        await pusher.close()
