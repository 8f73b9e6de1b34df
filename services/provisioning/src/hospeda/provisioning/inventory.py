"""The WHM server inventory: seeded from settings at start-up, API tokens
encrypted at rest (Fernet), one HTTP client per server."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import SecretStr

from hospeda.contracts import utcnow
from hospeda.provisioning import repository as repo
from hospeda.provisioning.adapters.whm import WhmClient
from hospeda.provisioning.config import ProvisioningSettings
from hospeda.provisioning.models import WhmServer
from hospeda.runtime.db import Database
from hospeda.runtime.errors import PermanentError
from hospeda.runtime.sealing import SecretBox, UnreadableSecret

log = logging.getLogger(__name__)


class CredentialCipher:
    """Server credentials encrypted for the database (``PROVISIONING_CREDENTIALS_KEY``;
    comma-separated keys rotate: the first encrypts, all decrypt)."""

    def __init__(self, keys: SecretStr) -> None:
        self._box = SecretBox(keys, setting="PROVISIONING_CREDENTIALS_KEY")

    def encrypt(self, secret: SecretStr) -> str:
        return self._box.seal(secret.get_secret_value())

    def decrypt(self, ciphertext: str) -> SecretStr:
        try:
            return SecretStr(self._box.open(ciphertext))
        except UnreadableSecret:
            raise PermanentError(
                "não foi possível decifrar as credenciais do servidor (chave errada?) "
                "/ cannot decrypt the server's credentials (wrong PROVISIONING_CREDENTIALS_KEY?)"
            ) from None


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
