"""Passwords and API tokens stay where they belong: no message on any topic,
no row in any table, no log line ever holds one (tokens are stored only
encrypted)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from provisioning_kit import (
    Bus,
    Whm,
    create_command,
    make_settings,
    running,
    wait_job,
    wait_state,
    watching,
)

from hospeda.contracts import new_id
from hospeda.contracts.provisioning import ResetPassword
from hospeda.contracts.topics import NOTIFY_COMMANDS, TOPICS


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def every_log_line() -> Iterator[Collect]:
    """Every log line at every level (enter it once the service has set up logging)."""
    handler = Collect()
    handler.setFormatter(logging.Formatter("%(name)s %(message)s %(exc_info)s"))
    root = logging.getLogger()
    noisy = [logging.getLogger(n) for n in ("httpx", "httpcore", "aiokafka", "sqlalchemy.engine")]
    levels = [root.level, *(n.level for n in noisy)]
    root.addHandler(handler)
    for logger in (root, *noisy):
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for logger, level in zip((root, *noisy), levels, strict=True):
            logger.setLevel(level)


async def test_passwords_and_tokens_never_appear_in_messages_tables_or_logs(
    whm: Whm, bus: Bus, database_url: str, kafka_bootstrap: str
) -> None:
    settings = make_settings(database_url, kafka_bootstrap, [whm.settings()])
    names = [t.name for t in TOPICS] + [t.dlq for t in TOPICS]
    company = new_id()
    async with watching(kafka_bootstrap, *names) as seen, running(settings) as app:
        with every_log_line() as logs:
            create = create_command("segredo.com.br")
            await bus.send(create, company_id=company)
            user = (await wait_state(app, create.service_id, "active")).username
            assert user is not None
            first_password = (await whm.accounts())[user]["password"]
            await bus.send(ResetPassword(service_id=create.service_id), company_id=company)
            await wait_job(app, create.service_id, "reset-password", "succeeded")
            second_password = (await whm.accounts())[user]["password"]
            assert first_password != second_password
            await seen.wait(NOTIFY_COMMANDS.name, "notify.send", count=2)  # the relay has published

        secrets = {
            "the first password": first_password,
            "the reset password": second_password,
            "the API token": whm.token,
        }
        assert seen.messages
        for label, secret in secrets.items():
            leaks = [topic for topic, _, raw in seen.messages if secret.encode() in raw]
            assert not leaks, f"{label} was published on {leaks}"

        async with app.db.engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names())
            for table in tables:
                dump = repr((await conn.execute(sa.text(f'SELECT * FROM "{table}"'))).all())
                for label, secret in secrets.items():
                    assert secret not in dump, f"{label} is stored in table {table}"
            ciphertext = (
                await conn.execute(sa.text("SELECT token_ciphertext FROM whm_server"))
            ).scalar_one()
        assert app.inventory.cipher.decrypt(ciphertext).get_secret_value() == whm.token

        assert any("createacct" in line for line in logs.lines)  # the calls were logged …
        for label, secret in secrets.items():
            leaks = [line for line in logs.lines if secret in line]
            assert not leaks, f"{label} was logged: {leaks[:1]}"  # … without their secrets
