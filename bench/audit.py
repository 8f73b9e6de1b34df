"""Audit figures: entries per second through the real append path (redaction,
personal data sealed, chained, Merkle leaf, signed checkpoints) beside plain
inserts of the same rows into the same database in the same run; and how long
``verify`` takes over 1,000,000 entries."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.support import Report, Stopwatch, fresh_database
from hospeda.audit.config import AuditSettings
from hospeda.audit.domain import Draft
from hospeda.audit.keys import load_data_box, load_keyring, private_key_pem
from hospeda.audit.service import AuditLog
from hospeda.audit.subjects import SubjectKeys
from hospeda.audit.verify import verify_log
from hospeda.contracts import new_id, utcnow
from hospeda.runtime.clock import SystemClock
from hospeda.runtime.db import Database
from hospeda.runtime.migrate import service_migrations, upgrade

BATCH = 500  # what the consumer hands over at once (max_records)
COMPANIES = 50


async def _log(url: str, tmp: Path) -> AuditLog:
    settings = AuditSettings(
        DATABASE_URL=url,
        HOSPEDA_ENV="test",
        HOSPEDA_DATA_DIR=str(tmp),
        signing_key=private_key_pem(Ed25519PrivateKey.generate()),
        data_key=Fernet.generate_key().decode(),
    )
    db = Database(url)
    await upgrade(db, service_migrations("audit"))
    log = AuditLog(
        settings=settings,
        db=db,
        keyring=load_keyring(settings),
        subjects=SubjectKeys(load_data_box(settings)),
        clock=SystemClock(),
    )
    await log.ensure_head()
    return log


def _draft(i: int, companies: list[Any], *, personal: bool = True) -> Draft:
    now = utcnow()
    return Draft(
        message_id=new_id(),
        company_id=companies[i % len(companies)],
        occurred_at=now,
        actor_kind="user",
        actor_id=f"user-{i % 500}",
        action="member.invited" if personal else "ops.probe.completed",
        entity="invitation",
        entity_id=str(new_id()),
        before=None,
        after={"email": f"pessoa{i % 2000}@exemplo.com.br", "name": "Maria Souza", "role": "admin"}
        if personal
        else {"n": i},
        ip="203.0.113.7" if personal else None,
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0" if personal else None,
        topic="audit.records.v1" if personal else "ops.probe.v1",
        correlation_id=new_id(),
        causation_id=None,
        trace_id=None,
    )


async def ingest(report: Report, admin_url: str | None, tmp: Path, count: int = 20_000) -> None:
    async with fresh_database(admin_url, tmp, "audit") as url:
        log = await _log(url, tmp)
        companies = [uuid4() for _ in range(COMPANIES)]
        drafts = [_draft(i, companies) for i in range(count)]
        rows: list[dict[str, Any]] = []
        with Stopwatch() as chained:
            for start in range(0, count, BATCH):
                async with log.db.transaction() as session:
                    rows += await log.append(session, drafts[start : start + BATCH])
                if start // BATCH % 20 == 19:
                    await log.sign_checkpoint()  # a checkpoint per 10,000: far more than per minute
            await log.sign_checkpoint()
        # the same rows, as plain inserts into a table of the same shape, same batches
        async with log.db.engine.begin() as connection:
            await connection.execute(
                sa.text("CREATE TABLE plain_entry AS SELECT * FROM audit_entry WHERE 1 = 0")
            )
        plain = sa.table("plain_entry", *(sa.column(k) for k in rows[0]))
        with Stopwatch() as inserts:
            for start in range(0, count, BATCH):
                async with log.db.transaction() as session:
                    await session.execute(sa.insert(plain), rows[start : start + BATCH])
        chained_rate, plain_rate = count / chained.seconds, count / inserts.seconds
        label = f"{count:,} entries in batches of {BATCH}"
        report.add(
            "audit", f"ingest, sealed + chained + signed: {label}", chained_rate, "entries/s"
        )
        report.add("audit", f"plain inserts of the same rows: {label}", plain_rate, "rows/s")
        report.add("audit", "ingest rate ÷ plain insert rate", chained_rate / plain_rate, "x")
        await log.db.dispose()


async def verify(report: Report, admin_url: str | None, tmp: Path) -> None:
    count = int(os.environ.get("AUDIT_BENCH_VERIFY_ENTRIES", "1000000"))
    async with fresh_database(admin_url, tmp, "audit_verify") as url:
        log = await _log(url, tmp)
        companies = [uuid4() for _ in range(COMPANIES)]
        for start in range(0, count, 5000):
            drafts = [
                _draft(i, companies, personal=i % 10 == 0)
                for i in range(start, min(count, start + 5000))
            ]
            async with log.db.transaction() as session:
                await log.append(session, drafts)
            if start % 100_000 == 0:
                await log.sign_checkpoint()
        await log.sign_checkpoint()
        with Stopwatch() as took:
            result = await verify_log(log.db, log.keyring.verify)
        assert result.ok, result.summary()
        report.add(
            "audit",
            f"verify {count:,} entries (hashes, chains, tree, signatures)",
            took.seconds,
            "s",
        )
        await log.db.dispose()


async def everything(report: Report, admin_url: str | None, tmp: Path) -> None:
    await ingest(report, admin_url, tmp)
    await verify(report, admin_url, tmp)
