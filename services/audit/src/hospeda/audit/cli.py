"""``python -m hospeda.audit <command>``: the auditor's and the DPO's tools.

    verify [--company ID]        recompute every hash, chain, root and signature; exit 1 on a break
    prove ENTRY_ID [--checkpoint N]   inclusion proof of an entry (JSON, format in the README)
    prove --from SIZE [--checkpoint N] consistency proof from a checkpoint you kept
    check FILE [--key BASE64 …]  check a proof document against trusted public keys
    checkpoint                   sign a checkpoint now
    export --subject EMAIL_OR_ID everything about one person, decrypted, as one JSON document
    erase --subject EMAIL_OR_ID  destroy the person's keys (LGPD Art. 18); recorded
    retention                    destroy the keys whose retention ran out

Settings are the service's (``AUDIT_*``, ``DATABASE_URL``); without a command
the service runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from hospeda.audit import repository
from hospeda.audit.config import AuditSettings
from hospeda.audit.domain import AuditError, key_id_of
from hospeda.audit.keys import load_data_box, load_keyring, parse_public_key
from hospeda.audit.models import Checkpoint
from hospeda.audit.queries import opener_for, view
from hospeda.audit.service import AuditLog
from hospeda.audit.subjects import SubjectKeys
from hospeda.audit.verify import (
    check_document,
    consistency_document,
    inclusion_document,
    verify_log,
)
from hospeda.contracts import Actor, ActorKind, Envelope, utcnow
from hospeda.contracts.audit import AuditRecord
from hospeda.runtime.clock import SystemClock
from hospeda.runtime.db import Database
from hospeda.runtime.errors import NotFound
from hospeda.runtime.migrate import service_migrations, upgrade

COMMANDS = ("verify", "prove", "check", "checkpoint", "export", "erase", "retention")
EXPORT_FORMAT = "hospeda-audit-subject-export/v1"


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m hospeda.audit", description=__doc__)
    sub = main.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="check the whole log")
    verify.add_argument("--company", help="check this company's chain (the tree is always whole)")
    prove = sub.add_parser("prove", help="an inclusion or consistency proof")
    prove.add_argument("entry_id", nargs="?", type=UUID)
    prove.add_argument(
        "--from", dest="old_size", type=int, help="tree size of the checkpoint you kept"
    )
    prove.add_argument("--checkpoint", type=int, help="checkpoint number (default: the latest)")
    check = sub.add_parser("check", help="check a proof document")
    check.add_argument("file", help="the JSON document (- for standard input)")
    check.add_argument("--key", action="append", default=[], help="a trusted public key (base64)")
    sub.add_parser("checkpoint", help="sign a checkpoint now")
    for name in ("export", "erase"):
        command = sub.add_parser(name, help=f"{name} a data subject")
        command.add_argument("--subject", required=True, help="e-mail, user id or subject id")
        command.add_argument("--by", default="dpo", help="who asks (recorded), e.g. a staff id")
        command.add_argument("--reason", default="lgpd-art-18", help="recorded with the erasure")
    sub.add_parser("retention", help="apply retention now")
    return main


async def run(argv: Sequence[str], settings: AuditSettings | None = None) -> int:
    args = parser().parse_args(argv)
    settings = settings or AuditSettings()
    if args.command == "check":
        return _check(args, settings)
    db = Database(settings.database_url)
    try:
        await upgrade(db, service_migrations("audit"))
        keyring = load_keyring(settings)
        log = AuditLog(
            settings=settings,
            db=db,
            keyring=keyring,
            subjects=SubjectKeys(load_data_box(settings)),
            clock=SystemClock(),
        )
        await log.ensure_head()
        return await _command(args, log, db)
    except (AuditError, NotFound) as exc:
        print(f"erro / error: {exc}", file=sys.stderr)
        return 2
    finally:
        await db.dispose()


async def _command(args: argparse.Namespace, log: AuditLog, db: Database) -> int:
    staff = Actor(kind=ActorKind.STAFF, id=str(getattr(args, "by", "dpo"))[:200])
    if args.command == "verify":
        report = await verify_log(db, log.keyring.verify, company=args.company)
        print(report.summary())
        return 0 if report.ok else 1
    if args.command == "checkpoint":
        checkpoint = await log.sign_checkpoint()
        print(
            json.dumps(
                {
                    "number": checkpoint.number,
                    "tree_size": checkpoint.tree_size,
                    "root_hash": checkpoint.root_hash,
                }
            )
        )
        return 0
    if args.command == "prove":
        checkpoint = await _checkpoint(db, args.checkpoint)
        if args.old_size is not None:
            document = await consistency_document(db, args.old_size, checkpoint)
        elif args.entry_id is not None:
            document = await inclusion_document(db, args.entry_id, checkpoint)
        else:
            raise AuditError("give an ENTRY_ID or --from SIZE")
        print(json.dumps(document, indent=2))
        return 0
    if args.command == "export":
        print(json.dumps(await export(log, args.subject, by=staff), indent=2, ensure_ascii=False))
        return 0
    if args.command == "erase":
        erased = await log.erase(args.subject, by=staff, reason=args.reason)
        print(json.dumps(erased.model_dump(mode="json")))
        return 0
    if args.command == "retention":
        print(json.dumps(await log.apply_retention()))
        return 0
    raise AssertionError(args.command)


async def _checkpoint(db: Database, number: int | None) -> Checkpoint:
    async with db.transaction() as session:
        found = (
            await repository.checkpoint(session, number)
            if number is not None
            else await repository.latest_checkpoint(session)
        )
    if found is None:
        raise AuditError("no such checkpoint (the service signs one every minute)")
    return found


async def export(log: AuditLog, subject: str, *, by: Actor) -> dict[str, Any]:
    """Every entry holding the subject's data, only their values opened; the
    export is itself recorded."""
    async with log.db.transaction() as session:
        ids = await log.subjects.find(session, subject)
        if not ids:
            raise NotFound("titular não encontrado / subject not found")
        entries = await repository.entries_of(session, ids)
        opener = await opener_for(log, session, entries)
        document = {
            "format": EXPORT_FORMAT,
            "subject": subject,
            "subject_ids": sorted(map(str, ids)),
            "exported_at": utcnow().isoformat().replace("+00:00", "Z"),
            "entries": [view(e, opener, None, only=ids) for e in entries],
        }
        request = Envelope.of(
            AuditRecord(action="audit.subject_exported", entity="subject"), actor=by
        )
        log.queue(
            session,
            log.own_draft(
                actor=by,
                cause=request,
                action="audit.subject_exported",
                entity="subject",
                entity_id=str(min(ids)),
                after={"subjects": sorted(map(str, ids)), "entries": len(entries)},
            ),
        )
    return document


def _check(args: argparse.Namespace, settings: AuditSettings) -> int:
    text = sys.stdin.read() if args.file == "-" else open(args.file).read()  # noqa: SIM115
    if args.key:
        trusted = {key_id_of(raw): raw for raw in map(parse_public_key, args.key)}
    else:
        trusted = load_keyring(settings).trusted
    try:
        note = check_document(json.loads(text), trusted)
    except (AuditError, KeyError, ValueError) as exc:
        print(f"FALHOU / FAILED: {exc}")
        return 1
    print(f"OK: checks against checkpoint of {note.tree_size} entries signed by {note.key_id}")
    return 0


def main(argv: Sequence[str]) -> int:
    return asyncio.run(run(argv))
