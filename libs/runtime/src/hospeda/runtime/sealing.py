"""Secrets kept in a database, encrypted (Fernet: AES-128-CBC + HMAC-SHA256).

The key setting may list several keys separated by commas: the first encrypts,
all decrypt — add a new key in front, re-seal, then drop the old one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr


class UnreadableSecret(ValueError):
    """A sealed value none of the configured keys opens (wrong or retired key)."""


class SecretBox:
    def __init__(self, keys: SecretStr, *, setting: str) -> None:
        materials = [k.strip() for k in keys.get_secret_value().split(",") if k.strip()]
        if not materials:
            raise ValueError(f"{setting} is empty")
        self.setting = setting
        self._fernet = MultiFernet([Fernet(_fernet_key(m)) for m in materials])

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeEncodeError):
            raise UnreadableSecret(
                f"cannot decrypt a stored secret (wrong {self.setting}?)"
            ) from None


def _fernet_key(material: str) -> bytes:
    """A Fernet key as given, or one derived from a passphrase."""
    try:
        if len(base64.urlsafe_b64decode(material.encode())) == 32:
            return material.encode()
    except (binascii.Error, ValueError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest())
