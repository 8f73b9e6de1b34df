"""VAPID keys (RFC 8292): how a key is made and which public key browsers
subscribe with. Pure crypto, shared by the settings and the push adapter."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid


def generate_vapid_key() -> str:
    """A new VAPID private key: base64url of the raw 32-byte P-256 scalar."""
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def vapid_public_key(private_key: str) -> str:
    """The ``applicationServerKey`` browsers subscribe with: base64url of the
    uncompressed public point."""
    public = Vapid.from_string(private_key).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(public).decode().rstrip("=")
