"""The state of the local push service: subscriptions with their keys, and
every push it accepted, decrypted as the browser would.

It plays both halves of real web push: ``subscribe`` is what a browser's
``PushManager.subscribe(applicationServerKey)`` does (a new ECDH key pair and
auth secret, bound to the application server's key), and ``receive`` is what
the push service and the browser do with a push (check the VAPID JWT against
that key, then decrypt the RFC 8291 ``aes128gcm`` body).
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

URGENCIES = ("very-low", "low", "normal", "high")
MAX_JWT_LIFETIME_S = 24 * 3600  # RFC 8292 §2


class Refused(Exception):
    """The push is refused with an HTTP status, as a real push service would."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Subscription:
    id: str
    application_server_key: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes
    created_at: str
    gone: bool = False

    def public(self, base_url: str) -> dict[str, Any]:
        """What the browser hands the web app: ``PushSubscription.toJSON()``."""
        p256dh = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "id": self.id,
            "endpoint": f"{base_url}/push/{self.id}",
            "keys": {"p256dh": b64url(p256dh), "auth": b64url(self.auth_secret)},
        }


@dataclass
class PushService:
    """Subscriptions, received pushes and the fault switch."""

    origin: str  # the audience VAPID tokens must name, e.g. http://127.0.0.1:8030
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    fail_status: int = 500
    refused: int = 0

    def subscribe(self, application_server_key: str) -> Subscription:
        key = unb64url(application_server_key)
        if len(key) != 65 or key[0] != 4:
            raise Refused(400, "applicationServerKey must be an uncompressed P-256 point")
        subscription = Subscription(
            id=uuid4().hex,
            application_server_key=application_server_key,
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=os.urandom(16),
            created_at=datetime.now(UTC).isoformat(),
        )
        self.subscriptions[subscription.id] = subscription
        return subscription

    def unsubscribe(self, subscription_id: str) -> None:
        """The browser dropped it: later pushes get 410 Gone."""
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None:
            raise Refused(404, "no such subscription")
        subscription.gone = True

    def receive(self, subscription_id: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        """Accept one push (or raise ``Refused``) and keep what it said."""
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None:
            raise Refused(404, "no such subscription")
        if subscription.gone:
            raise Refused(410, "subscription expired or unsubscribed")
        if self.fail_next > 0:
            self.fail_next -= 1
            self.refused += 1
            raise Refused(self.fail_status, "simulated failure")
        claims = self._check_vapid(subscription, headers.get("authorization", ""))
        ttl = headers.get("ttl")
        if ttl is None or not ttl.isdigit():
            raise Refused(400, "TTL header required (RFC 8030 §5.2)")
        urgency = headers.get("urgency", "normal")
        if urgency not in URGENCIES:
            raise Refused(400, f"bad Urgency {urgency!r}")
        topic = headers.get("topic")
        if topic is not None and (len(topic) > 32 or not _is_b64url(topic)):
            raise Refused(400, "Topic must be at most 32 base64url characters")
        if headers.get("content-encoding") != "aes128gcm":
            raise Refused(415, "Content-Encoding must be aes128gcm (RFC 8291)")
        try:
            plain = http_ece.decrypt(
                body,
                private_key=subscription.private_key,
                auth_secret=subscription.auth_secret,
                version="aes128gcm",
            )
        except Exception as exc:
            raise Refused(400, f"cannot decrypt: {exc}") from None
        text = plain.decode("utf-8", errors="replace")
        try:
            payload: Any = json.loads(text)
        except ValueError:
            payload = text
        message = {
            "id": uuid4().hex,
            "subscription_id": subscription.id,
            "received_at": datetime.now(UTC).isoformat(),
            "ttl": int(ttl),
            "urgency": urgency,
            "topic": topic,
            "subject": claims.get("sub"),
            "payload": payload,
        }
        if topic is not None:  # a newer push with the same topic replaces the waiting one
            self.received = [
                m
                for m in self.received
                if not (m["subscription_id"] == subscription.id and m["topic"] == topic)
            ]
        self.received.append(message)
        return message

    def _check_vapid(self, subscription: Subscription, authorization: str) -> dict[str, Any]:
        """RFC 8292: ``vapid t=<JWT>, k=<key>``, ES256 signed by the key the
        subscription was made with, for this origin, not expired, with a contact."""
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise Refused(401, "Authorization: vapid t=…, k=… required")
        parts = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        token, key = parts.get("t", ""), parts.get("k", "")
        if key != subscription.application_server_key:
            raise Refused(403, "VAPID key does not match the subscription's applicationServerKey")
        try:
            header_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(unb64url(header_b64))
            claims = json.loads(unb64url(claims_b64))
            signature = unb64url(signature_b64)
        except ValueError:
            raise Refused(401, "malformed VAPID token") from None
        if header.get("alg") != "ES256" or len(signature) != 64:
            raise Refused(401, "VAPID token must be ES256")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise Refused(401, "VAPID signature does not verify") from None
        now = time.time()
        if claims.get("aud") != self.origin:
            raise Refused(401, f"VAPID aud must be {self.origin}")
        expires = claims.get("exp")
        if not isinstance(expires, int) or not now < expires <= now + MAX_JWT_LIFETIME_S:
            raise Refused(401, "VAPID exp must be in the next 24 hours")
        subject = str(claims.get("sub", ""))
        if not subject.startswith(("mailto:", "https:")):
            raise Refused(401, "VAPID sub must be a mailto: or https: contact")
        return dict(claims)


def _is_b64url(text: str) -> bool:
    return all(c.isalnum() or c in "-_" for c in text)
