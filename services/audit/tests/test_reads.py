"""Reading the log: one company's entries only, filtered and paged; staff
platform-wide; every read is itself an entry; each item carries what a
client needs to check it alone."""

from __future__ import annotations

import hashlib
import json
from uuid import uuid4

import pytest
from audit_kit import AUDITOR, OWNER, StartAudit

from hospeda.audit import repository
from hospeda.audit.merkle import leaf_hash, verify_inclusion
from hospeda.audit.verify import inclusion_document
from hospeda.contracts import Actor, ActorKind
from hospeda.contracts.audit import AuditRecord
from hospeda.runtime.errors import Forbidden, PermanentError

ADMIN = Actor(kind=ActorKind.USER, id=str(uuid4()))


async def test_a_company_reads_only_its_own_entries_filtered_and_paged(
    start_audit: StartAudit,
) -> None:
    audit = await start_audit()
    other = uuid4()
    for number in range(5):
        await audit.record("invoice.refund", entity_id=f"inv-{number}")
    await audit.send(AuditRecord(action="member.invited", entity="invitation"), actor=ADMIN)
    await audit.send(AuditRecord(action="invoice.refund", entity="invoice"), company_id=other)
    await audit.wait_entries(7)

    seen, cursor = [], None
    while True:
        page = await audit.query({"limit": 2, "cursor": cursor, "action": "invoice.*"})
        seen += [item["entity_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"inv-{n}" for n in range(5)]  # oldest first, nobody else's
    assert [i["action"] for i in (await audit.query({"actor_id": ADMIN.id}))["items"]] == [
        "member.invited"
    ]
    assert len((await audit.query({"entity": "invoice", "entity_id": "inv-3"}))["items"]) == 1
    first = (await audit.query({"limit": 1}))["items"][0]
    later = await audit.query({"since": first["occurred_at"], "until": "2999-01-01T00:00:00Z"})
    assert {i["company_id"] for i in later["items"]} == {str(audit.company_id)}
    others = await audit.query(company_id=other)
    assert [i["entity"] for i in others["items"]] == ["invoice"]
    with pytest.raises(PermanentError, match="UUID"):
        await audit.query({"correlation_id": "not-a-uuid"})
    with pytest.raises(PermanentError, match=r"fuso|time zone"):
        await audit.query({"since": "2026-01-01T00:00:00"})


async def test_every_read_is_itself_an_entry(start_audit: StartAudit) -> None:
    audit = await start_audit()
    await audit.record()
    await audit.wait_entries(1)
    await audit.query({"entity": "invoice"})
    await audit.query({"limit": 10, "export": "csv"})
    reads = (await audit.query({"action": "audit.*"}))["items"]
    assert [r["action"] for r in reads] == ["audit.read", "audit.export"]
    assert reads[0]["actor"] == {"kind": OWNER.kind.value, "id": OWNER.id}
    assert reads[0]["after"]["filters"] == {"entity": "invoice"}
    assert reads[1]["after"]["format"] == "csv"
    assert reads[0]["category"] == "access" and reads[0]["ip"]


async def test_only_staff_read_without_a_company(start_audit: StartAudit) -> None:
    audit = await start_audit()
    await audit.record()
    await audit.send(AuditRecord(action="staff.role_changed", entity="user"), company_id=None)
    await audit.wait_entries(2)
    with pytest.raises(Forbidden):
        await audit.query(company_id=None, actor=OWNER)
    everything = await audit.query(company_id=None, actor=AUDITOR)
    assert {i["chain"] for i in everything["items"]} == {str(audit.company_id), "platform"}


async def test_an_item_carries_what_a_client_needs_to_check_it(start_audit: StartAudit) -> None:
    audit = await start_audit()
    for number in range(3):
        await audit.record(entity_id=f"inv-{number}")
    await audit.wait_entries(3)
    checkpoint = await audit.log.sign_checkpoint()
    items = (await audit.query())["items"]
    for before, item in zip([None, *items], items, strict=False):
        assert hashlib.sha256(item["record"].encode()).hexdigest() == item["hash"]
        record = json.loads(item["record"])
        assert record["prev_hash"] == item["prev_hash"]
        assert item["prev_hash"] == (before["hash"] if before else "0" * 64)
        assert item["checkpoint"]["tree_size"] > item["leaf_index"]
        assert item["checkpoint"]["number"] <= checkpoint.number
    middle = items[1]
    async with audit.db.transaction() as session:
        covering = await repository.checkpoint(session, middle["checkpoint"]["number"])
    assert covering is not None
    document = await inclusion_document(audit.db, middle["id"], covering)
    proof = [bytes.fromhex(p) for p in document["proof"]]
    assert verify_inclusion(
        leaf_hash(middle["record"].encode()),
        middle["leaf_index"],
        middle["checkpoint"]["tree_size"],
        proof,
        bytes.fromhex(middle["checkpoint"]["root_hash"]),
    )
