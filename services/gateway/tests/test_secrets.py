"""Passwords, tokens and secrets never leave the gateway: not in any Kafka
message (audit records included), not in its logs. Single-use links travel
only in the notification request that e-mails them."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from gateway_kit import (
    PASSWORD,
    Harness,
    emailed_token,
    expect,
    read_all,
    read_topic,
    unique_email,
)
from pydantic import SecretStr

from hospeda.contracts import TOPICS
from hospeda.contracts.identity import CompanyRole
from hospeda.contracts.topics import NOTIFY_COMMANDS
from hospeda.gateway.config import GatewaySettings
from hospeda.runtime.db import Database
from hospeda.runtime.sealing import SecretBox, UnreadableSecret


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + repr(record.__dict__))


async def test_no_secret_reaches_kafka_or_the_logs(harness: Harness) -> None:
    capture = Capture()
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.INFO)
    try:
        owner = await harness.sign_up()
        secrets: list[str] = [PASSWORD, str(owner.browser.session_id), str(owner.browser.csrf)]
        await harness.enable_2fa(owner)
        assert owner.totp is not None
        secrets += [owner.totp.secret, *owner.recovery_codes]
        token = expect(
            await owner.browser.post(
                "/api/v1/company/tokens", json={"name": "ERP", "permissions": ["company:read"]}
            ),
            201,
        )["token"]
        secrets.append(token)
        expect(await harness.browser(token=token).get("/api/v1/company"), 200)
        member = await harness.invite(owner, CompanyRole.BILLING)
        secrets += [str(member.browser.session_id), str(member.browser.csrf)]
        await member.browser.post(
            "/api/v1/auth/password/change",
            json={"current_password": PASSWORD, "new_password": "nova-frase-secreta-99"},
        )
        secrets.append("nova-frase-secreta-99")
        await harness.browser().post(
            "/api/v1/auth/login", json={"email": owner.email, "password": "senha-errada-secreta"}
        )
        secrets.append("senha-errada-secreta")
        anonymous = harness.browser()
        await anonymous.post("/api/v1/auth/password/forgot", json={"email": member.email})
        reset = await emailed_token(
            harness.bootstrap, template="password-reset", email=member.email
        )
        await anonymous.post(
            "/api/v1/auth/password/reset",
            json={"token": reset, "password": "terceira-frase-secreta"},
        )
        secrets.append("terceira-frase-secreta")
        invited = unique_email()
        await owner.browser.post(
            "/api/v1/company/invitations", json={"email": invited, "role": "viewer"}
        )
        links = [
            reset,
            await emailed_token(harness.bootstrap, template="invitation", email=invited),
            await emailed_token(harness.bootstrap, template="verify-email", email=owner.email),
        ]
        marker = expect(await owner.browser.post("/api/v1/auth/logout"), 200)
        assert marker == {"status": "signed_out"}

        everything = {
            topic: "".join(m.model_dump_json() for m in messages)
            for topic, messages in (
                await read_all(harness.bootstrap, *(t.name for t in TOPICS))
            ).items()
        }
        audit = await read_topic(
            harness.bootstrap,
            "audit.records.v1",
            until=lambda seen: any(m.payload.action == "user.logout" for m in seen),
        )
        everything["audit.records.v1"] = "".join(m.model_dump_json() for m in audit)
    finally:
        root.removeHandler(capture)
        root.setLevel(previous_level)

    assert len(everything["audit.records.v1"]) > 1000  # there was plenty to look at
    logs = "\n".join(capture.lines)
    for secret in secrets:
        for topic, text in everything.items():
            assert secret not in text, f"a secret is on {topic}"
        assert secret not in logs, "a secret is in the logs"
    for link in links:
        for topic, text in everything.items():
            if topic != NOTIFY_COMMANDS.name:
                assert link not in text, f"a single-use link is on {topic}"
        assert link not in logs
        assert link in everything[NOTIFY_COMMANDS.name]


async def test_totp_secrets_are_encrypted_at_rest(harness: Harness) -> None:
    """A database dump alone cannot mint codes: the stored TOTP secret is sealed
    with GATEWAY_TOTP_KEY, and only that key opens it."""
    owner = await harness.sign_up()
    await harness.enable_2fa(owner)
    assert owner.totp is not None
    db = Database(harness.database_url)
    try:
        async with db.engine.connect() as conn:
            stored = (
                await conn.execute(
                    sa.text("SELECT totp_secret FROM user_account WHERE email = :e"),
                    {"e": owner.email},
                )
            ).scalar_one()
    finally:
        await db.dispose()
    assert owner.totp.secret not in stored
    assert SecretBox(GatewaySettings().totp_key, setting="k").open(stored) == owner.totp.secret
    with pytest.raises(UnreadableSecret):
        SecretBox(SecretStr("another-key-entirely"), setting="k").open(stored)
    # and the sealed secret still signs in
    await owner.browser.post("/api/v1/auth/logout")
    await harness.login(owner)
    expect(await owner.browser.get("/api/v1/me"), 200)
