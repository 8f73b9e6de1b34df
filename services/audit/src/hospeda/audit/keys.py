"""The audit service's keys: the Ed25519 key that signs checkpoints (and the
public keys of retired ones, so old checkpoints keep verifying), and the data
key that seals every subject's key.

Read from settings — the environment or a file — and never logged. Outside
production, missing keys are generated once under the data directory, so
``make run`` and a developer's ``python -m hospeda.audit verify`` agree.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import SecretStr

from hospeda.audit.config import AuditSettings
from hospeda.audit.domain import AuditError, key_id_of
from hospeda.runtime.sealing import SecretBox
from hospeda.runtime.settings import Environment

log = logging.getLogger(__name__)

LOCAL_SIGNING_KEY = "audit-signing-key.pem"
LOCAL_DATA_KEY = "audit-data-key"


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Signer:
    """The key that signs new checkpoints."""

    private: Ed25519PrivateKey = field(repr=False)

    @property
    def public_raw(self) -> bytes:
        return raw_public(self.private.public_key())

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_raw).decode()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_raw)

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.private.sign(data)).decode()

    def __repr__(self) -> str:  # never the private key
        return f"Signer(key_id={self.key_id})"


@dataclass(frozen=True)
class Keyring:
    """The signer and every public key a checkpoint may be signed with."""

    signer: Signer
    trusted: dict[str, bytes]

    def verify(self, key_id: str, signature_b64: str, data: bytes) -> bool:
        public = self.trusted.get(key_id)
        if public is None:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(
                base64.b64decode(signature_b64, validate=True), data
            )
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True


def parse_private_key(text: str) -> Ed25519PrivateKey:
    """A PEM PKCS#8 Ed25519 key, or the base64 32-byte seed."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise AuditError("the signing key must be an Ed25519 key")
            return key
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error):
        raise AuditError("the signing key is not a readable Ed25519 key") from None


def parse_public_key(text: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error):
        raise AuditError(
            f"AUDIT_VERIFY_KEYS: not a base64 Ed25519 public key: {text[:12]}…"
        ) from None
    return raw


def private_key_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _local(settings: AuditSettings, name: str, make: str) -> str:
    if settings.environment is Environment.PRODUCTION:
        raise AuditError(f"{name} is missing (refused in production)")
    path = settings.data_dir / name
    if not path.exists():
        _write_secret(path, make)
        log.warning("generated a local audit key in %s (development only)", path)
    return path.read_text()


def load_keyring(settings: AuditSettings) -> Keyring:
    if settings.signing_key is not None:
        text = settings.signing_key.get_secret_value()
    elif settings.signing_key_file is not None:
        text = settings.signing_key_file.read_text()
    else:
        text = _local(settings, LOCAL_SIGNING_KEY, private_key_pem(Ed25519PrivateKey.generate()))
    signer = Signer(parse_private_key(text))
    trusted = {key_id_of(raw): raw for raw in map(parse_public_key, settings.verify_keys)}
    trusted[signer.key_id] = signer.public_raw
    return Keyring(signer, trusted)


def load_data_box(settings: AuditSettings) -> SecretBox:
    if settings.data_key is not None:
        key = settings.data_key
    elif settings.data_key_file is not None:
        key = SecretStr(settings.data_key_file.read_text().strip())
    else:
        key = SecretStr(_local(settings, LOCAL_DATA_KEY, Fernet.generate_key().decode()).strip())
    return SecretBox(key, setting="AUDIT_DATA_KEY")
