"""LGPD: personal data is stored sealed per data subject; erasing a subject
destroys their keys (``verify`` stays green, their data is unreadable
everywhere); a subject's export holds their entries and nobody else's;
retention destroys expired months' keys and hides those entries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from audit_kit import AUDITOR, IP, OWNER, Audit, StartAudit, read_all

from hospeda.audit.privacy import ERASED, OTHER_SUBJECT
from hospeda.contracts import Actor, ActorKind
from hospeda.contracts.audit import AuditRecord
from hospeda.contracts.identity import UserRegistered
from hospeda.contracts.topics import AUDIT_LOG, IDENTITY_USER
from hospeda.devstack.testing import eventually
from hospeda.runtime.clock import ManualClock

MARIA, JOAO = "maria@padaria.com.br", "joao@padaria.com.br"


async def people(audit: Audit) -> dict[str, str]:
    """Maria and João sign up; Maria invites João (her name, his address)."""
    ids = {MARIA: str(uuid4()), JOAO: str(uuid4())}
    for email, name in ((MARIA, "Maria Souza"), (JOAO, "João Lima")):
        await audit.send(
            UserRegistered(user_id=ids[email], email=email, name=name),  # type: ignore[arg-type]
            topic=IDENTITY_USER,
            key=ids[email],
            actor=Actor(kind=ActorKind.USER, id=ids[email]),
        )
    await audit.send(
        AuditRecord(
            action="member.invited",
            entity="invitation",
            entity_id=str(uuid4()),
            after={"email": JOAO, "inviter": "Maria Souza", "role": "admin"},
            user_agent="Firefox/140",
        ),
        actor=Actor(kind=ActorKind.USER, id=ids[MARIA]),
    )
    await audit.wait_entries(3)
    return ids


def by_entity(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Entries by entity id (they come from two topics, in either order)."""
    return {i["entity_id"]: i for i in items if i["entity_id"]}


async def test_personal_data_is_stored_sealed_and_read_opened(start_audit: StartAudit) -> None:
    audit = await start_audit()
    ids = await people(audit)
    stored = await audit.stored_text()
    for personal in (MARIA, JOAO, "Maria Souza", "João Lima", IP, "Firefox/140"):
        assert personal not in stored
    items = (await audit.query())["items"]
    maria = by_entity(items)[ids[MARIA]]
    invitation = next(i for i in items if i["action"] == "member.invited")
    assert maria["after"]["email"] == MARIA and maria["after"]["name"] == "Maria Souza"
    assert invitation["after"]["inviter"] == "Maria Souza" and invitation["ip"] == IP


async def test_erasure_keeps_verify_green_and_the_subject_unreadable(
    start_audit: StartAudit, kafka_bootstrap: str
) -> None:
    audit = await start_audit()
    ids = await people(audit)
    await audit.log.sign_checkpoint()
    erased = await audit.cli_json("erase", "--subject", ids[MARIA], "--by", "dpo-1")  # by user id
    assert erased["entries"] == 2 and erased["keys_destroyed"] >= 1
    report = await audit.verify()
    assert report.ok, report.summary()
    items = (await audit.query())["items"]
    maria, joao = by_entity(items)[ids[MARIA]], by_entity(items)[ids[JOAO]]
    invitation = next(i for i in items if i["action"] == "member.invited")
    assert maria["after"]["email"] == ERASED and maria["after"]["name"] == ERASED  # linked by id
    assert maria["ip"] == ERASED
    assert invitation["after"]["inviter"] == ERASED
    assert joao["after"]["email"] == JOAO and invitation["after"]["email"] == JOAO
    code, printed = await audit.cli("export", "--subject", MARIA)
    assert code == 2 and "not found" in printed  # nothing left that finds her
    recorded = await audit.query({"action": "audit.subject_erased"}, company_id=None, actor=AUDITOR)
    assert recorded["items"][0]["actor"] == {"kind": "staff", "id": "dpo-1"}

    async def published() -> bool:
        return any(
            e.type == "audit.subject.erased"
            for e in await read_all(kafka_bootstrap, AUDIT_LOG.name)
        )

    await eventually(published, message="the erasure on audit.log.v1")


async def test_export_returns_the_subjects_entries_and_nobody_elses(
    start_audit: StartAudit,
) -> None:
    audit = await start_audit()
    await people(audit)
    document = await audit.cli_json("export", "--subject", MARIA, "--by", "dpo-1")
    assert document["format"] == "hospeda-audit-subject-export/v1"
    by_action = {e["action"]: e for e in document["entries"]}  # two topics: in either order
    assert set(by_action) == {"identity.user.registered", "member.invited"}
    registered, invitation = by_action["identity.user.registered"], by_action["member.invited"]
    assert registered["after"]["email"] == MARIA and registered["after"]["name"] == "Maria Souza"
    assert invitation["after"]["inviter"] == "Maria Souza"
    assert invitation["after"]["email"] == OTHER_SUBJECT  # João's address stays closed
    assert JOAO not in json.dumps(document) and "João" not in json.dumps(document)
    exported = await audit.query(
        {"action": "audit.subject_exported"}, company_id=None, actor=AUDITOR
    )
    assert exported["items"], "the export is itself recorded"


async def test_retention_destroys_expired_keys_and_hides_those_entries(
    start_audit: StartAudit,
) -> None:
    clock = ManualClock(datetime(2026, 1, 10, tzinfo=UTC))
    audit = await start_audit(clock=clock, retention_days="access=183,operations=365")
    await audit.send(AuditRecord(action="user.login", entity="user", entity_id=OWNER.id))
    await audit.send(
        AuditRecord(action="invoice.refund", entity="invoice", after={"reason": "duplicada"})
    )
    await audit.wait_entries(2)
    clock.advance(timedelta(days=200))  # hidden from reads now; the keys of January stay until
    assert [i["action"] for i in (await audit.query())["items"]] == ["invoice.refund"]
    assert await audit.log.apply_retention() == {}  # ... the whole month is past its 183 days
    clock.advance(timedelta(days=30))
    destroyed = await audit.log.apply_retention()
    assert set(destroyed) == {"access"}
    items = (await audit.query())["items"]
    assert [i["action"] for i in items][:1] == ["invoice.refund"]
    assert items[0]["after"]["reason"] == "duplicada"
    report = await audit.verify()
    assert report.ok, report.summary()
    rows = await audit.raw("SELECT category, period FROM audit_subject_key")
    assert ("access", "202601") not in {(r["category"], r["period"]) for r in rows}
