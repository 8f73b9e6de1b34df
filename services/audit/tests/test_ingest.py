"""Every message becomes one entry — once, however often it is delivered —
with no secret in it and no text able to forge another entry; the first
version's entries are re-recorded under the new scheme."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from alembic import command
from audit_kit import IP, OWNER, StartAudit

from hospeda.contracts import Actor, new_id
from hospeda.contracts.audit import AuditRecord
from hospeda.contracts.identity import UserRegistered
from hospeda.contracts.jobs import JobDeadLettered
from hospeda.contracts.notify import Channel, Recipient, SendNotification
from hospeda.contracts.topics import IDENTITY_USER, NOTIFY_COMMANDS, NOTIFY_JOB
from hospeda.notify.templates import TEMPLATES
from hospeda.runtime.db import Database
from hospeda.runtime.migrate import RUNTIME, service_migrations
from hospeda.runtime.redaction import REDACTED
from hospeda.runtime.types import JSONType, UtcDateTime

SECRETS = {
    "verify": "Vt0kVerifica9xQ2",
    "reset": "Rs7RedefineAbc12",
    "invite": "Cv9ConviteZZ88a1",
    "cpsess": "8765432109",
    "session": "user:padaria:create_user_session:9f8e7d6c5b4a",
    "card": "4242 4242 4242 4242",
    "whm": "WHMtokenQWERTY1234567",
    "stripe": "pi_3Nabc123DEF_secret_XyZ987abc",
}
APP = "https://app.hospeda.test"

SAMPLES: dict[str, dict[str, Any]] = {
    "verify-email": {
        "name": "Maria Souza",
        "link": f"{APP}/conta/verificar-email?token={SECRETS['verify']}",
        "expires_minutes": 60,
    },
    "password-reset": {
        "name": "Maria Souza",
        "link": f"{APP}/conta/redefinir-senha?token={SECRETS['reset']}",
        "expires_minutes": 30,
    },
    "password-changed": {
        "name": "Maria Souza",
        "tokens_link": f"{APP}/empresa/tokens",
        "reset_link": f"{APP}/conta/esqueci-a-senha",
    },
    "signup-existing-account": {
        "name": "Maria Souza",
        "login_link": f"{APP}/",
        "reset_link": f"{APP}/conta/esqueci-a-senha",
    },
    "invitation": {
        "inviter": "Maria Souza",
        "company_name": "Padaria Pão Quente",
        "role": "admin",
        "link": f"{APP}/conta/convite?token={SECRETS['invite']}",
    },
    "invoice-issued": {
        "number": "2026-000123",
        "amount_cents": 4990,
        "currency": "BRL",
        "due_date": "10/12/2026",
        "link": f"{APP}/faturas/0190f5e2-7b1c-7c3e-9a51-1f2d3c4b5a69#pay={SECRETS['stripe']}",
    },
    "invoice-paid": {"number": "2026-000123", "amount_cents": 4990, "currency": "BRL"},
    "invoice-overdue": {
        "number": "2026-000123",
        "amount_cents": 4990,
        "due_date": "10/12/2026",
        "days_overdue": 3,
        "link": f"{APP}/faturas/x",
    },
    "payment-failed": {
        "number": "2026-000123",
        "reason": f"cartão {SECRETS['card']} recusado",
        "link": f"{APP}/faturas/x",
    },
    "service-active": {
        "domain": "padaria.com.br",
        "username": "padaria",
        "link": f"https://whm1.hospeda.test:2083/cpsess{SECRETS['cpsess']}/login/?session={SECRETS['session']}",
    },
    "service-suspended": {"domain": "padaria.com.br", "reason": "fatura em atraso", "link": APP},
    "provisioning-failed": {
        "domain": "padaria.com.br",
        "reason": f"WHM said 403 to Authorization: whm root:{SECRETS['whm']}",
    },
    "delegation-instructions": {
        "domain": "padaria.com.br",
        "nameservers": "ns1.hospeda.test\nns2.hospeda.test",
    },
    "delegation-verified": {"domain": "padaria.com.br"},
    "delegation-failed": {
        "domain": "padaria.com.br",
        "wait_hours": 72,
        "nameservers": "ns1.hospeda.test",
        "found_nameservers": "ns1.outro.test",
    },
    "delegation-lost": {"domain": "padaria.com.br", "nameservers": "ns1.hospeda.test"},
    "addon-failed": {
        "domain": "padaria.com.br",
        "addon": "backup-pro",
        "link": f"{APP}/app/servicos/1",
    },
    "undelivered-refunded": {
        "domain": "padaria.com.br",
        "product": "Básico",
        "amount_cents": 1990,
        "currency": "BRL",
        "link": f"{APP}/app/faturas/1",
    },
    "pix-returned": {
        "number": "2026-000123",
        "amount_cents": 1990,
        "currency": "BRL",
        "link": f"{APP}/app/faturas/1",
    },
    "pix-credited": {
        "number": "2026-000123",
        "amount_cents": 1010,
        "currency": "BRL",
        "link": f"{APP}/app/faturas/1",
    },
    "undelivered-credited": {
        "domain": "padaria.com.br",
        "product": "Backup Pro",
        "amount_cents": 1490,
        "currency": "BRL",
        "link": f"{APP}/app/faturas/1",
    },
    "ops-alert": {
        "severity": "critical",
        "summary": f"Job create-account failed: GET https://whm1.test:2087/cpsess{SECRETS['cpsess']}/json-api 500",
        "source": "provisioning",
        "alert_key": "provisioning:create-account",
        "details": f"Authorization: whm root:{SECRETS['whm']}",
        "link": f"{APP}/app/equipe/tarefas/provisioning/1",
        "window_minutes": 15,
    },
    "ops-alert-digest": {
        "count": 2,
        "alert_key": "billing:webhook",
        "items": f"payment {SECRETS['stripe']} refused; card {SECRETS['card']}",
        "link": f"{APP}/app/equipe/tarefas",
    },
}


async def test_a_redelivered_message_adds_nothing(start_audit: StartAudit) -> None:
    audit = await start_audit()
    first = await audit.record("invoice.refund", entity_id="inv-1")
    await audit.send(first.payload, envelope=first)  # the same message again
    await audit.record("invoice.void", entity_id="inv-2")
    await audit.wait_entries(2)
    await audit.send(first.payload, envelope=first)
    await audit.record("invoice.void", entity_id="inv-3")
    await audit.wait_entries(3)
    assert await audit.count() == 3
    # and behind the inbox (pruned ids, another consumer group): still one entry per message
    draft = audit.log.own_draft(actor=OWNER, action="x", entity="y", entity_id=None, after=None)
    for _ in range(2):
        async with audit.db.transaction() as session:
            audit.log.queue(session, draft)
            audit.log.queue(session, draft)
    assert await audit.count() == 4
    assert (await audit.verify()).ok


async def test_each_message_is_the_action_of_its_type_on_its_topic(start_audit: StartAudit) -> None:
    audit = await start_audit()
    user_id = uuid4()
    sent = await audit.send(
        UserRegistered(user_id=user_id, email="maria@padaria.com.br", name="Maria Souza"),
        topic=IDENTITY_USER,
        key=str(user_id),
    )
    await audit.wait_entries(1)
    item = (await audit.query())["items"][0]
    assert (item["action"], item["entity"], item["entity_id"]) == (
        "identity.user.registered",
        "user",
        str(user_id),
    )
    assert item["after"]["email"] == "maria@padaria.com.br"
    assert item["actor"] == {"kind": OWNER.kind.value, "id": OWNER.id}
    assert item["ip"] == IP
    assert item["correlation_id"] == str(sent.correlation_id)
    assert item["category"] == "identity"


def notification(template: str, data: dict[str, Any]) -> SendNotification:
    return SendNotification(
        notification_id=new_id(),
        channel=Channel.EMAIL,
        template=template,
        recipient=Recipient(email="maria@padaria.com.br", name="Maria Souza"),
        data=data,
    )


async def test_no_secret_from_any_notification_template_reaches_the_store(
    start_audit: StartAudit,
) -> None:
    assert set(SAMPLES) == set(TEMPLATES), "every template needs sample data here"
    audit = await start_audit()
    for template, data in SAMPLES.items():
        command_ = notification(template, data)
        await audit.send(command_, topic=NOTIFY_COMMANDS, key=str(command_.notification_id))
        failed = JobDeadLettered(
            job_id=uuid4(),
            queue="email",
            kind="send-email",
            attempts=5,
            error=f"SMTP 550 while sending {data.get('link', '')}",
            payload=command_.model_dump(mode="json"),
        )
        await audit.send(
            failed, topic=NOTIFY_JOB, key=str(failed.job_id), actor=Actor.system("notify")
        )
    await audit.wait_entries(2 * len(SAMPLES))
    stored = await audit.stored_text()
    for name, secret in SECRETS.items():
        assert secret not in stored, f"the {name} secret is in the audit store"
    for personal in ("maria@padaria.com.br", "Maria Souza", IP):
        assert personal not in stored, f"{personal} is stored in the clear"
    items = (await audit.query({"limit": 100}))["items"]
    links = [i["after"]["data"].get("link") for i in items if i["action"] == "notify.send"]
    assert f"{APP}/conta/verificar-email?token={REDACTED}" in links  # the shape stays readable
    assert (await audit.verify()).ok


async def test_text_cannot_forge_entries(start_audit: StartAudit) -> None:
    audit = await start_audit()
    forged_line = "\r\n2026-12-01T00:00:00Z staff:root user.login ok\x1b[2K\u2028"
    await audit.send(
        AuditRecord(
            action="user.login" + forged_line[:20],
            entity="user",
            entity_id="u-1" + forged_line[:10],
            after={"note\n": forged_line},
            user_agent="Mozilla/5.0" + forged_line,
        )
    )
    await audit.wait_entries(1)
    rows = await audit.raw("SELECT action, entity_id, after FROM audit_entry")
    for value in rows[0].values():
        assert not any(ch in str(value) for ch in "\r\n\x1b\u2028"), value
    item = (await audit.query())["items"][0]
    assert item["user_agent"].startswith("Mozilla/5.0\\r\\n2026")
    assert "\\u001b" in item["user_agent"]
    assert item["action"].startswith("user.login\\r\\n")


async def _database_of_the_first_version(database_url: str) -> None:
    db = Database(database_url)

    def run(connection: sa.Connection) -> None:
        for migration_set, revision in (
            (RUNTIME, "head"),
            (service_migrations("audit"), "4386b10e9fb2"),
        ):
            cfg = migration_set.config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)

    async with db.engine.begin() as connection:
        await connection.run_sync(run)
    await db.dispose()


async def test_the_first_versions_entries_are_re_recorded(
    start_audit: StartAudit, database_url: str
) -> None:
    await _database_of_the_first_version(database_url)
    company = uuid4()
    db = Database(database_url)
    legacy = sa.Table(  # the first version's table, as its migration built it
        "audit_entry",
        sa.MetaData(),
        sa.Column("seq", sa.Integer, primary_key=True),
        *(
            sa.Column(n, sa.Uuid)
            for n in ("message_id", "company_id", "correlation_id", "causation_id")
        ),
        *(sa.Column(n, UtcDateTime) for n in ("occurred_at", "recorded_at")),
        *(sa.Column(n, JSONType) for n in ("before", "after")),
        *(
            sa.Column(n, sa.String)
            for n in (
                "chain",
                "actor_kind",
                "actor_id",
                "action",
                "entity",
                "entity_id",
                "ip",
                "user_agent",
                "topic",
                "trace_id",
                "prev_hash",
                "hash",
            )
        ),
    )
    links = (f"{APP}/conta/verificar-email?token={SECRETS['verify']}", APP)
    rows = [
        {
            "message_id": uuid4(),
            "chain": str(company),
            "company_id": company,
            "occurred_at": datetime(2026, 11, number + 1, 10, tzinfo=UTC),
            "recorded_at": datetime(2026, 11, number + 1, 10, 0, 1, tzinfo=UTC),
            "actor_kind": "user",
            "actor_id": "u-1",
            "action": "notify.send",
            "entity": "command",
            "after": {"recipient": {"email": "maria@padaria.com.br"}, "data": {"link": link}},
            "ip": IP,
            "topic": "notify.commands.v1",
            "correlation_id": uuid4(),
            "prev_hash": "0" * 64,
            "hash": f"{number:064d}",
        }
        for number, link in enumerate(links)
    ]
    async with db.engine.begin() as connection:
        await connection.execute(sa.insert(legacy), rows)
    await db.dispose()

    audit = await start_audit()  # migrates, then re-records the old entries at start-up
    assert await audit.count() == 2
    stored = await audit.stored_text()
    assert SECRETS["verify"] not in stored and "maria@padaria.com.br" not in stored
    items = (await audit.query(company_id=company))["items"]
    assert [json.loads(i["record"])["migrated_from"] for i in items[:2]] == [
        f"v1:seq=1:hash={0:064d}",
        f"v1:seq=2:hash={1:064d}",
    ]
    assert items[0]["after"]["recipient"]["email"] == "maria@padaria.com.br"
    assert (await audit.verify()).ok
    tables = await audit.raw(
        "SELECT table_name AS name FROM information_schema.tables WHERE table_name = 'audit_entry_v1'"
        if audit.is_postgres
        else "SELECT name FROM sqlite_master WHERE name = 'audit_entry_v1'"
    )
    assert tables == []  # the old table, which held secrets in the clear, is gone
