"""Secrets: password hashing (argon2id), TOTP codes, random tokens and their hashes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hospeda.gateway.config import GatewaySettings

TOTP_ISSUER = "Hospeda"
TOTP_PERIOD = 30


class Passwords:
    """argon2id hashing, off the event loop (it is deliberately slow)."""

    def __init__(self, settings: GatewaySettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        # Verified when the e-mail is unknown, so a miss costs as much as a hit.
        self._decoy = self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(stored or self._decoy, password) and stored is not None
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)


def new_secret(prefix: str = "", nbytes: int = 32) -> str:
    """A random URL-safe secret (links, session ids, API tokens)."""
    return prefix + secrets.token_urlsafe(nbytes)


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret: what we store instead of it."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, email: str) -> str:
    """The otpauth:// URI authenticator apps read (shown as a QR code)."""
    return pyotp.TOTP(secret, interval=TOTP_PERIOD).provisioning_uri(
        name=email, issuer_name=TOTP_ISSUER
    )


@dataclass(frozen=True)
class TotpMatch:
    step: int


def match_totp(secret: str, code: str, *, now: datetime, after_step: int) -> TotpMatch | None:
    """The time step ``code`` belongs to (±1 step for clock drift), if it is
    newer than ``after_step`` — a code is accepted once, never replayed."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_PERIOD)
    current = int(now.timestamp()) // TOTP_PERIOD
    for step in (current - 1, current, current + 1):
        if step > after_step and same(totp.at(step * TOTP_PERIOD), code):
            return TotpMatch(step)
    return None


RECOVERY_CODES = 10


def new_recovery_codes() -> list[str]:
    """Ten codes like ``k7x2-m9qp-4hvd``: 60 random bits each."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return [
        "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))
        for _ in range(RECOVERY_CODES)
    ]


def normalise_recovery_code(code: str) -> str:
    return code.strip().lower().replace(" ", "")


class KnownDevices:
    """The signed "known device" cookie a browser gets at a full sign-in:
    ``<user id>.<random device id>.<HMAC>``. Presented again for the same
    person, it lifts the per-account limits for that browser (see ``limits``),
    so an attacker's failures cannot lock the owner out. The key is derived
    from ``GATEWAY_TOTP_KEY`` (its first key), under its own label."""

    def __init__(self, settings: GatewaySettings) -> None:
        first = settings.totp_key.get_secret_value().split(",")[0].strip()
        self._key = hmac.new(first.encode(), b"hospeda known-device cookie", "sha256").digest()

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), "sha256").hexdigest()

    def issue(self, user_id: object, device: str | None = None) -> str:
        """A cookie value for this person; ``device`` keeps the id of a device already known."""
        body = f"{user_id}.{device or secrets.token_urlsafe(16)}"
        return f"{body}.{self._sign(body)}"

    def device(self, raw: str | None, user_id: object) -> str | None:
        """The device id the cookie names, if it is genuine and is this person's."""
        if not raw or len(raw) > 200 or raw.count(".") != 2:
            return None
        owner, device, signature = raw.split(".")
        if owner != str(user_id) or not same(signature, self._sign(f"{owner}.{device}")):
            return None
        return device
