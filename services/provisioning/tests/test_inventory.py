"""The server inventory: seeded from settings, credentials encrypted at rest."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from hospeda.provisioning.config import ProvisioningSettings, WhmServerSettings
from hospeda.provisioning.inventory import CredentialCipher, Inventory
from hospeda.provisioning.models import WhmServer
from hospeda.runtime.db import Database
from hospeda.runtime.errors import PermanentError
from hospeda.runtime.migrate import service_migrations, upgrade


def server(name: str, token: str) -> WhmServerSettings:
    return WhmServerSettings(
        name=name,
        url=f"https://{name}.hospeda.com.br:2087",
        token=SecretStr(token),
        packages=("basico",),
    )


async def test_credentials_are_encrypted_at_rest_and_servers_come_from_settings(
    database_url: str,
) -> None:
    db = Database(database_url)
    await upgrade(db, service_migrations("provisioning"))
    tokens = {"whm1": "TOKEN-ONE-0123456789ABCDEF", "whm2": "TOKEN-TWO-0123456789ABCDEF"}
    settings = ProvisioningSettings(
        DATABASE_URL=database_url,
        HOSPEDA_ENV="test",
        credentials_key=SecretStr("the-first-key"),
        whm_servers=tuple(server(n, t) for n, t in tokens.items()),
    )
    inventory = Inventory(db, settings)
    try:
        await inventory.seed()
        async with db.transaction() as session:
            rows = {r.name: r for r in (await session.execute(sa.select(WhmServer))).scalars()}
        assert set(rows) == {"whm1", "whm2"}
        for name, token in tokens.items():
            assert token not in rows[name].token_ciphertext
            assert inventory.cipher.decrypt(rows[name].token_ciphertext).get_secret_value() == token
        assert inventory.client("whm1").base_url == "https://whm1.hospeda.com.br:2087"
        with pytest.raises(PermanentError, match="servidor WHM desconhecido"):
            inventory.client("whm9")

        with pytest.raises(PermanentError, match="chave errada"):
            CredentialCipher(SecretStr("another-key")).decrypt(rows["whm1"].token_ciphertext)
        rotated = CredentialCipher(
            SecretStr("a-new-key,the-first-key")
        )  # new key first, old still reads
        assert rotated.decrypt(rows["whm1"].token_ciphertext).get_secret_value() == tokens["whm1"]

        # whm2 leaves the settings: it keeps its accounts but takes no new ones
        fewer = settings.model_copy(update={"whm_servers": (server("whm1", tokens["whm1"]),)})
        await Inventory(db, fewer).seed()
        async with db.transaction() as session:
            active = {
                r.name: r.active for r in (await session.execute(sa.select(WhmServer))).scalars()
            }
        assert active == {"whm1": True, "whm2": False}
    finally:
        await inventory.close()
        await db.dispose()
