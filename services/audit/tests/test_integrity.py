"""The store refuses changes, and whatever a superuser changes anyway is found
by ``verify``, which names the entry; checkpoints are signed, chain, and can
be checked from outside with nothing but the proof documents."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from audit_kit import AUDITOR, Audit, StartAudit, new_signing_key
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hospeda.audit.config import AuditSettings
from hospeda.audit.domain import AuditError, Note, key_id_of
from hospeda.audit.keys import Signer, load_keyring, parse_private_key, raw_public
from hospeda.audit.repository import ENTRY
from hospeda.audit.verify import check_document
from hospeda.runtime.errors import Forbidden


async def three_entries(audit: Audit) -> list[str]:
    for number in range(3):
        await audit.record(entity_id=f"inv-{number}", after={"total": number})
    await audit.wait_entries(3)
    return await audit.entry_ids()


def trusted(audit: Audit) -> dict[str, bytes]:
    return dict(audit.log.keyring.trusted)


async def test_update_delete_and_truncate_are_refused_even_as_replica(
    start_audit: StartAudit,
) -> None:
    audit = await start_audit()
    await three_entries(audit)
    await audit.log.sign_checkpoint()
    statements = [
        "UPDATE audit_entry SET action = 'forged'",
        "DELETE FROM audit_entry",
        "UPDATE audit_checkpoint SET tree_size = 0",
        "DELETE FROM audit_checkpoint",
        "DELETE FROM audit_entry_subject",
    ]
    if audit.is_postgres:
        statements += ["TRUNCATE audit_entry", "TRUNCATE audit_checkpoint"]
    engine = sa.ext.asyncio.create_async_engine(audit.db.url)
    try:
        for replica in (False, True) if audit.is_postgres else (False,):
            for statement in statements:
                async with engine.connect() as connection:
                    if replica:  # what a logical-replication apply worker runs as
                        await connection.execute(sa.text("SET session_replication_role = replica"))
                    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                        await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()
    assert await audit.count() == 3
    assert (await audit.verify()).ok


async def test_verify_names_an_entry_edited_by_a_superuser(start_audit: StartAudit) -> None:
    audit = await start_audit()
    ids = await three_entries(audit)
    assert (await audit.verify()).ok
    await audit.tamper(
        "UPDATE audit_entry SET after = replace(after, '1', '1000') WHERE leaf_index = 1"
    )
    report = await audit.verify()
    assert not report.ok
    assert report.first is not None
    assert (report.first.kind, report.first.entry_id) == ("altered", ids[1])
    code, printed = await audit.cli("verify")
    assert code == 1
    assert "first: ALTERED" in printed and ids[1] in printed
    # the same answer for the operators' ``hospeda audit verify`` (query log.verify), staff only
    answer = await audit.query(name="log.verify", actor=AUDITOR, company_id=None)
    assert answer["ok"] is False and ids[1] in answer["problems"][0]
    assert "first: ALTERED" in answer["summary"]
    with pytest.raises(Forbidden):
        await audit.query(name="log.verify")  # a customer


async def test_verify_names_a_deleted_entry(start_audit: StartAudit) -> None:
    audit = await start_audit()
    ids = await three_entries(audit)
    await audit.tamper("DELETE FROM audit_entry WHERE leaf_index = 1")
    report = await audit.verify()
    assert report.first is not None
    assert report.first.kind == "removed"
    assert report.first.entry_id == ids[2]  # named by the entry that follows the gap
    assert "leaf 1 is missing" in report.first.detail
    assert any(p.kind == "removed" and "seq 2..2" in p.detail for p in report.problems), (
        report.summary()
    )


async def test_verify_names_a_reordered_entry(start_audit: StartAudit) -> None:
    audit = await start_audit()
    ids = await three_entries(audit)
    await audit.tamper(  # entries 2 and 3 swap places in the chain and in the tree
        "UPDATE audit_entry SET leaf_index = -1, seq = -1 WHERE leaf_index = 1",
        "UPDATE audit_entry SET leaf_index = 1, seq = 2 WHERE leaf_index = 2",
        "UPDATE audit_entry SET leaf_index = 2, seq = 3 WHERE leaf_index = -1",
    )
    report = await audit.verify()
    assert report.first is not None
    assert (report.first.kind, report.first.entry_id) == ("reordered", ids[2])
    assert ids[1] in report.first.detail


async def test_an_entry_appended_behind_the_service_is_found(start_audit: StartAudit) -> None:
    audit = await start_audit()
    await three_entries(audit)
    async with audit.db.transaction() as session:  # INSERT is allowed: a copy, next numbers
        row = (await session.execute(sa.select(ENTRY).where(ENTRY.c.leaf_index == 2))).one()
        forged: dict[str, Any] = dict(row._mapping)
        forged.update(leaf_index=3, seq=4, id=uuid4(), message_id=uuid4(), action="forgiven")
        await session.execute(sa.insert(ENTRY).values(**forged))
    report = await audit.verify()
    kinds = {p.kind for p in report.problems}
    assert "altered" in kinds  # its fields do not hash to the hash it copied
    assert any("log head counts 3" in p.detail for p in report.problems)


async def test_checkpoints_verify_chain_and_prove_consistency(start_audit: StartAudit) -> None:
    audit = await start_audit()
    await three_entries(audit)
    first = await audit.log.sign_checkpoint()
    for number in range(5):
        await audit.record(entity_id=f"later-{number}")
    await audit.wait_entries(8)
    second = await audit.log.sign_checkpoint()
    assert (first.tree_size, second.tree_size) == (3, 8)
    report = await audit.verify()
    assert report.ok, report.summary()
    assert report.checkpoints >= 3  # the one at start-up, and these two
    document = await audit.cli_json(
        "prove", "--from", str(first.tree_size), "--checkpoint", str(second.number)
    )
    assert document["old_root"] == first.root_hash
    note = check_document(document, trusted(audit))
    assert note.tree_size == 8
    document["old_root"] = second.root_hash
    with pytest.raises(AuditError, match="consistency"):
        check_document(document, trusted(audit))


async def test_an_inclusion_proof_checks_outside_and_a_tampered_one_does_not(
    start_audit: StartAudit, tmp_path: Any
) -> None:
    audit = await start_audit()
    ids = await three_entries(audit)
    await audit.log.sign_checkpoint()
    document = await audit.cli_json("prove", ids[1])
    assert document["format"] == "hospeda-audit-inclusion/v1"
    assert json.loads(document["record"])["id"] == ids[1]
    check_document(document, trusted(audit))
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(document))
    public = base64.b64encode(audit.log.keyring.signer.public_raw).decode()
    code, printed = await audit.cli("check", str(path), "--key", public)
    assert code == 0, printed
    assert readme_check(document, public)  # the README's stand-alone checker agrees
    document["record"] = document["record"].replace("invoice.refund", "invoice.forgiven")
    assert not readme_check(document, public)
    path.write_text(json.dumps(document))
    code, printed = await audit.cli("check", str(path), "--key", public)
    assert code == 1 and "inclusion proof" in printed


def readme_check(document: dict[str, Any], public_key: str) -> bool:
    """Run the outside checker the README documents, as written there."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {}
    exec(code, scope)
    return bool(scope["included"](document, public_key))


async def test_a_forged_checkpoint_signature_fails(start_audit: StartAudit) -> None:
    audit = await start_audit()
    await three_entries(audit)
    honest = await audit.log.sign_checkpoint()
    intruder = Signer(Ed25519PrivateKey.generate())
    note = Note.parse(honest.note)
    forged_note = Note(note.origin, note.tree_size, note.root_hash, note.issued_at, intruder.key_id)
    text = forged_note.text()
    await audit.raw(
        "INSERT INTO audit_checkpoint (number, tree_size, root_hash, issued_at, key_id,"
        " public_key, signature, note) VALUES (:n, :size, :root, :at, :key, :pub, :sig, :note)",
        n=honest.number + 1,
        size=honest.tree_size,
        root=honest.root_hash,
        at=honest.issued_at,
        key=intruder.key_id,
        pub=intruder.public_b64,
        sig=intruder.sign(text.encode()),
        note=text,
    )
    report = await audit.verify()
    assert [p.kind for p in report.problems] == ["forged"]
    assert f"checkpoint {honest.number + 1}" in report.problems[0].detail
    # a flipped bit in an honest signature is forged too
    signature = bytearray(base64.b64decode(honest.signature))
    signature[0] ^= 1
    assert not audit.log.keyring.verify(
        honest.key_id, base64.b64encode(bytes(signature)).decode(), honest.note.encode()
    )


async def test_rotated_keys_keep_old_checkpoints_verifiable(start_audit: StartAudit) -> None:
    old_key, new_key = new_signing_key(), new_signing_key()
    data_key = Fernet.generate_key().decode()
    audit = await start_audit(signing_key=old_key, data_key=data_key)
    await three_entries(audit)
    await audit.log.sign_checkpoint()
    await audit.runtime.stop()
    old_public = base64.b64encode(raw_public(parse_private_key(old_key).public_key())).decode()
    rotated = await start_audit(signing_key=new_key, data_key=data_key, verify_keys=old_public)
    await rotated.log.sign_checkpoint()
    report = await rotated.verify()
    assert report.ok, report.summary()
    forgetful = await start_audit(signing_key=new_key, data_key=data_key)
    report = await forgetful.verify()
    assert {p.kind for p in report.problems} == {"forged"}  # the old key is no longer trusted


def test_production_refuses_to_start_without_keys(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="AUDIT_SIGNING_KEY") as refused:
        AuditSettings(
            HOSPEDA_ENV="production",
            DATABASE_URL="postgresql://audit@db/audit",
            HOSPEDA_TOPIC_REPLICATION=3,
        )
    assert "AUDIT_DATA_KEY" in str(refused.value)
    secret = new_signing_key()
    settings = AuditSettings(
        HOSPEDA_ENV="test",
        HOSPEDA_DATA_DIR=str(tmp_path),
        signing_key=secret,
        data_key=Fernet.generate_key().decode(),
    )
    keyring = load_keyring(settings)
    for shown in (repr(settings), str(settings.model_dump()), repr(keyring)):
        assert "PRIVATE KEY" not in shown
    assert keyring.signer.key_id == key_id_of(keyring.signer.public_raw)


def test_a_local_key_is_generated_once_outside_production(tmp_path: Any) -> None:
    settings = AuditSettings(HOSPEDA_ENV="development", HOSPEDA_DATA_DIR=str(tmp_path))
    first = load_keyring(settings).signer.key_id
    assert load_keyring(settings).signer.key_id == first
    assert (tmp_path / "audit-signing-key.pem").stat().st_mode & 0o077 == 0
