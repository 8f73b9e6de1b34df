"""The WHM server inventory: seeded from settings at start-up, API tokens
encrypted at rest (Fernet), one HTTP client per server."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from hospeda.contracts import utcnow
from hospeda.provisioning import repository as repo
from hospeda.provisioning.adapters.whm import WhmClient
from hospeda.provisioning.config import ProvisioningSettings
from hospeda.provisioning.models import WhmServer
from hospeda.runtime.db import Database
from hospeda.runtime.errors import PermanentError

log = logging.getLogger(__name__)


class CredentialCipher:
    """Encrypts server credentials for the database. The key setting may list
    several keys separated by commas: the first encrypts, all decrypt (rotation)."""

    def __init__(self, keys: SecretStr) -> None:
        materials = [k.strip() for k in keys.get_secret_value().split(",") if k.strip()]
        if not materials:
            raise ValueError("PROVISIONING_CREDENTIALS_KEY is empty")
        self._fernet = MultiFernet([Fernet(_fernet_key(m)) for m in materials])

    def encrypt(self, secret: SecretStr) -> str:
        return self._fernet.encrypt(secret.get_secret_value().encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> SecretStr:
        try:
            return SecretStr(self._fernet.decrypt(ciphertext.encode("ascii")).decode())
        except InvalidToken:
            raise PermanentError(
                "não foi possível decifrar as credenciais do servidor (chave errada?) "
                "/ cannot decrypt the server's credentials (wrong PROVISIONING_CREDENTIALS_KEY?)"
            ) from None


def _fernet_key(material: str) -> bytes:
    """A Fernet key as given, or one derived from a passphrase."""
    try:
        if len(base64.urlsafe_b64decode(material.encode())) == 32:
            return material.encode()
    except (binascii.Error, ValueError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest())


class Inventory:
    """The WHM servers this service provisions on, and a client for each."""

    def __init__(self, db: Database, settings: ProvisioningSettings) -> None:
        self.db = db
        self.settings = settings
        self.cipher = CredentialCipher(settings.credentials_key)
        self._clients: dict[str, WhmClient] = {}
        self.limits: dict[str, int] = {}
        """How many jobs may run at once on each server (its ``concurrency``)."""

    async def seed(self) -> None:
        """Write the configured servers (token encrypted) and load every
        server's client. Servers no longer configured take no new accounts."""
        now = utcnow()
        async with self.db.transaction() as session:
            for conf in self.settings.whm_servers:
                values: dict[str, Any] = {
                    "url": conf.url,
                    "api_user": conf.user,
                    "token_ciphertext": self.cipher.encrypt(conf.token),
                    "max_accounts": conf.max_accounts,
                    "concurrency": conf.concurrency,
                    "packages": list(conf.packages),
                    "verify_tls": conf.verify_tls,
                    "active": True,
                    "updated_at": now,
                }
                row = await repo.server(session, conf.name)
                if row is None:
                    session.add(WhmServer(name=conf.name, created_at=now, **values))
                else:
                    for field, value in values.items():
                        setattr(row, field, value)
            await session.flush()
            await repo.deactivate_servers_except(
                session, [s.name for s in self.settings.whm_servers]
            )
        await self.load()

    async def load(self) -> None:
        async with self.db.transaction() as session:
            rows = await repo.servers(session)
        old, self._clients = self._clients, {}
        self.limits = {row.name: row.concurrency for row in rows}
        for row in rows:
            self._clients[row.name] = WhmClient(
                server=row.name,
                url=row.url,
                user=row.api_user,
                token=self.cipher.decrypt(row.token_ciphertext),
                timeout=self.settings.whm_timeout_s,
                create_timeout=self.settings.whm_create_timeout_s,
                verify_tls=row.verify_tls,
                max_connections=max(10, row.concurrency * 2),
            )
        for client in old.values():
            await client.aclose()
        log.info("WHM inventory: %s", ", ".join(sorted(self._clients)) or "no servers")

    def client(self, server: str) -> WhmClient:
        try:
            return self._clients[server]
        except KeyError:
            raise PermanentError(
                f"servidor WHM desconhecido / unknown WHM server: {server!r}"
            ) from None

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients = {}
