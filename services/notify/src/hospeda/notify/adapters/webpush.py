"""Sending web pushes: RFC 8291 encryption and RFC 8292 (VAPID) signatures
through ``pywebpush``, over one pooled aiohttp session.

What the push service answers decides what happens next: 201 is done, 404
and 410 mean the subscription is gone (remove it), 429 and 5xx are retried
by the job engine, any other refusal is permanent.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from py_vapid import Vapid
from pywebpush import WebPusher

from hospeda.notify.config import NotifySettings
from hospeda.runtime.errors import PermanentError
from hospeda.runtime.redaction import redact_text


@dataclass(frozen=True)
class Device:
    """Where one push goes: a browser's push subscription."""

    endpoint: str
    p256dh: str
    auth_secret: str


@dataclass(frozen=True)
class Push:
    """What a device shows: the payload is JSON, encrypted for that device only."""

    title: str
    body: str
    url: str | None
    tag: str
    urgency: str
    topic: str
    ttl: int
    data: dict[str, Any]

    def payload(self) -> bytes:
        return json.dumps(
            {
                "title": self.title,
                "body": self.body,
                "url": self.url,
                "tag": self.tag,
                "urgency": self.urgency,
                **self.data,
            },
            ensure_ascii=False,
        ).encode()


class SubscriptionGone(PermanentError):
    """The push service no longer knows this subscription (404/410)."""


class PushRefused(Exception):
    """A temporary refusal (429, 5xx): try again later."""


class Pusher(Protocol):
    """Hands one push to a device's push service."""

    async def send(self, device: Device, push: Push) -> None: ...


class WebPusherClient:
    """pywebpush over a shared aiohttp session, signed with our VAPID key."""

    def __init__(self, settings: NotifySettings) -> None:
        if settings.vapid_private_key is None:
            raise ValueError("NOTIFY_VAPID_PRIVATE_KEY is not set")
        self.vapid = Vapid.from_string(settings.vapid_private_key.get_secret_value())
        self.subject = settings.vapid_subject
        self.timeout = settings.push_timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._signed: dict[str, tuple[float, dict[str, str]]] = {}

    def _headers(self, endpoint: str) -> dict[str, str]:
        """VAPID headers for the endpoint's origin, re-signed well before they expire."""
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        cached = self._signed.get(audience)
        if cached is None or cached[0] - now < 3600:
            expires = int(now) + 12 * 3600
            headers = self.vapid.sign({"aud": audience, "exp": expires, "sub": self.subject})
            cached = (float(expires), dict(headers))
            self._signed[audience] = cached
        return dict(cached[1])

    async def send(self, device: Device, push: Push) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        info = {
            "endpoint": device.endpoint,
            "keys": {"p256dh": device.p256dh, "auth": device.auth_secret},
        }
        headers = {**self._headers(device.endpoint), "Urgency": push.urgency, "Topic": push.topic}
        try:
            pusher = WebPusher(info, aiohttp_session=self._session)
        except Exception as exc:  # malformed keys: this subscription can never work
            raise SubscriptionGone(f"assinatura inválida / invalid subscription: {exc}") from None
        response = await pusher.send_async(
            push.payload(), headers, ttl=push.ttl, content_encoding="aes128gcm"
        )
        assert not isinstance(response, str)  # only with curl=True
        status = response.status
        if status in (200, 201, 202):
            return
        text = redact_text((await response.text())[:300])
        if status in (404, 410):
            raise SubscriptionGone(
                f"o serviço de push esqueceu o dispositivo / device gone ({status})"
            )
        if status == 429 or status >= 500:
            raise PushRefused(f"push service answered {status}: {text}")
        raise PermanentError(
            f"o serviço de push recusou / the push service refused ({status}): {text}"
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
