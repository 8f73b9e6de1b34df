"""The audit log's use cases: appending entries (sealed, chained, numbered),
signing checkpoints, erasing and exporting a data subject, retention, and
re-recording the first version's entries.

Appending happens once per transaction, just before it commits (a
``Database.before_commit`` hook): handlers and queries only queue drafts, so a
consumer batch of 500 messages is one locked append and one multi-row insert.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.audit import repository
from hospeda.audit.config import AuditSettings
from hospeda.audit.domain import (
    FORMAT,
    GENESIS,
    Draft,
    Note,
    canonical,
    draft_of,
    json_text,
    period_of,
    record_hash,
    timestamp,
)
from hospeda.audit.keys import Keyring
from hospeda.audit.merkle import Frontier, leaf_hash
from hospeda.audit.models import Checkpoint
from hospeda.audit.privacy import (
    NON_PERSONAL_TOPICS,
    Cipher,
    People,
    Plan,
    Sealer,
    plan,
    pseudonymise_id,
    refs_in_id,
)
from hospeda.audit.subjects import KeyId, SubjectKeys
from hospeda.contracts import Actor, Envelope, new_id
from hospeda.contracts.audit import CheckpointSigned, SubjectErased
from hospeda.contracts.topics import AUDIT_LOG
from hospeda.runtime import outbox
from hospeda.runtime.clock import Clock
from hospeda.runtime.db import Database
from hospeda.runtime.errors import NotFound
from hospeda.runtime.messaging import MessageContext, current_trace_id
from hospeda.runtime.redaction import sanitise

log = logging.getLogger(__name__)

PENDING = "hospeda.audit.pending"
SELF = Actor.system("audit")


@dataclass
class _Prepared:
    draft: Draft
    people: People
    plan: Plan


class AuditLog:
    """The append-only, verifiable log (see the module docstring)."""

    def __init__(
        self,
        *,
        settings: AuditSettings,
        db: Database,
        keyring: Keyring,
        subjects: SubjectKeys,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.db = db
        self.keyring = keyring
        self.subjects = subjects
        self.clock = clock
        db.before_commit(self._append_pending)

    # --- ingest ---------------------------------------------------------------------------

    def record(self, ctx: MessageContext) -> None:
        """Queue the entry ``ctx.message`` makes; it is appended at commit."""
        self.queue(
            ctx.session,
            draft_of(
                ctx.message,
                topic=ctx.delivery.topic,
                key=ctx.delivery.key,
                trace_id=current_trace_id(),
            ),
        )

    @staticmethod
    def queue(session: AsyncSession, draft: Draft) -> None:
        session.info.setdefault(PENDING, []).append(draft)

    async def _append_pending(self, session: AsyncSession) -> None:
        drafts = session.info.pop(PENDING, None)
        if drafts:
            await self.append(session, drafts)

    async def ensure_head(self) -> None:
        """The log's head row, created once (with its alias secret)."""
        async with self.db.transaction() as session:
            if await repository.log_head(session) is None:
                await repository.create_log_head(
                    session, alias_secret=self.subjects.new_alias_secret()
                )

    async def append(self, session: AsyncSession, drafts: list[Draft]) -> list[dict[str, Any]]:
        """Seal, chain, number and insert ``drafts`` (new messages only)."""
        await repository.lock_for_append(self.db, session)
        known = await repository.known_messages(session, [d.message_id for d in drafts])
        fresh: dict[UUID, Draft] = {}
        for draft in drafts:
            if draft.message_id not in known:
                fresh.setdefault(draft.message_id, draft)
        if not fresh:
            return []
        head = await repository.log_head(session)
        if head is None:
            raise RuntimeError("the audit log has no head (start the service once)")
        frontier = Frontier.from_hex(head.tree_size, json.loads(head.frontier))
        now = self.clock.now()
        period = period_of(now)
        prepared = [self._prepare(d) for d in fresh.values()]
        subject_of = await self.subjects.resolve(session, (p.plan for p in prepared), now)
        wanted: set[KeyId] = {
            (subject_of[ref], p.draft.category, period) for p in prepared for ref in p.plan.refs
        }
        ciphers = await self.subjects.ciphers(session, wanted, now)
        heads = await repository.chain_heads(session, {p.draft.chain for p in prepared})
        rows: list[dict[str, Any]] = []
        links: list[dict[str, Any]] = []
        for item in prepared:
            draft = item.draft
            sealer = Sealer(
                item.people,
                subject_of.__getitem__,
                _cipher_of(ciphers, draft.category, period),
                draft.category,
                period,
            )
            seq, prev_hash = heads.get(draft.chain, (0, GENESIS))
            entry_id = new_id()
            record = self._record(
                draft,
                sealer,
                entry_id=entry_id,
                leaf_index=frontier.size,
                seq=seq + 1,
                prev_hash=prev_hash,
                now=now,
            )
            data = canonical(record)
            digest = record_hash(data)
            frontier.append(leaf_hash(data))
            heads[draft.chain] = (seq + 1, digest)
            rows.append(_row(record, digest, draft, now, entry_id))
            links += [{"subject_id": s, "leaf_index": record["leaf_index"]} for s in sealer.used]
        await repository.insert_entries(session, rows, links)
        await repository.save_chain_heads(session, heads)
        await repository.save_log_head(
            session, tree_size=frontier.size, frontier=json.dumps(frontier.to_hex())
        )
        return rows

    @staticmethod
    def _prepare(draft: Draft) -> _Prepared:
        payload = draft.after if isinstance(draft.after, dict) else None
        people = People.of(
            actor_kind=draft.actor_kind,
            actor_id=draft.actor_id,
            entity=draft.entity,
            entity_id=draft.entity_id,
            company_id=draft.company_id,
            payload=payload,
        )
        if draft.topic in NON_PERSONAL_TOPICS:
            needs = Plan()
            if draft.ip or draft.user_agent:
                needs.refs.add(people.actor)
        else:
            needs = plan(
                people, draft.before, draft.after, ip=draft.ip, user_agent=draft.user_agent
            )
        needs.refs |= refs_in_id(draft.entity_id)
        return _Prepared(draft, people, needs)

    @staticmethod
    def _record(
        draft: Draft,
        sealer: Sealer,
        *,
        entry_id: UUID,
        leaf_index: int,
        seq: int,
        prev_hash: str,
        now: datetime,
    ) -> dict[str, Any]:
        personal = draft.topic not in NON_PERSONAL_TOPICS
        return {
            "v": FORMAT,
            "leaf_index": leaf_index,
            "id": str(entry_id),
            "message_id": str(draft.message_id),
            "chain": draft.chain,
            "seq": seq,
            "company_id": str(draft.company_id) if draft.company_id else None,
            "occurred_at": timestamp(draft.occurred_at),
            "recorded_at": timestamp(now),
            "actor_kind": draft.actor_kind,
            "actor_id": draft.actor_id,
            "action": draft.action,
            "entity": draft.entity,
            "entity_id": pseudonymise_id(draft.entity_id, sealer),
            "before": json_text(sealer.seal(draft.before) if personal else draft.before),
            "after": json_text(sealer.seal(draft.after) if personal else draft.after),
            "ip": sealer.seal_envelope_text(draft.ip),
            "user_agent": sealer.seal_envelope_text(draft.user_agent),
            "topic": draft.topic,
            "correlation_id": str(draft.correlation_id),
            "causation_id": str(draft.causation_id) if draft.causation_id else None,
            "trace_id": draft.trace_id,
            "category": draft.category,
            "migrated_from": draft.migrated_from,
            "prev_hash": prev_hash,
        }

    # --- checkpoints ------------------------------------------------------------------------

    async def sign_checkpoint(self) -> Checkpoint:
        """Sign the log's current size and root, keep it and publish it."""
        async with self.db.transaction() as session:
            await repository.lock_for_append(self.db, session)
            head = await repository.log_head(session)
            if head is None:
                raise RuntimeError("the audit log has no head (start the service once)")
            frontier = Frontier.from_hex(head.tree_size, json.loads(head.frontier))
            signer = self.keyring.signer
            note = Note(
                origin=self.settings.origin,
                tree_size=frontier.size,
                root_hash=frontier.root(),
                issued_at=self.clock.now(),
                key_id=signer.key_id,
            )
            text = note.text()
            checkpoint = Checkpoint(
                number=head.checkpoints + 1,
                tree_size=note.tree_size,
                root_hash=note.root_hash.hex(),
                issued_at=note.issued_at,
                key_id=signer.key_id,
                public_key=signer.public_b64,
                signature=signer.sign(text.encode()),
                note=text,
            )
            await repository.add_checkpoint(session, checkpoint)
            await repository.save_log_head(
                session,
                tree_size=head.tree_size,
                frontier=head.frontier,
                checkpoints=checkpoint.number,
            )
            outbox.add(
                session,
                Envelope.of(
                    CheckpointSigned(
                        origin=note.origin,
                        tree_size=checkpoint.tree_size,
                        root_hash=checkpoint.root_hash,
                        issued_at=checkpoint.issued_at,
                        key_id=checkpoint.key_id,
                        public_key=checkpoint.public_key,
                        signature=checkpoint.signature,
                        note=text,
                    ),
                    actor=SELF,
                ),
                topic=AUDIT_LOG,
                key=note.origin,
            )
        return checkpoint

    async def checkpoint_loop(self) -> None:
        """A signed checkpoint every ``checkpoint_interval_s`` (runs until cancelled)."""
        while True:
            await self.sign_checkpoint()
            await asyncio.sleep(self.settings.checkpoint_interval_s)

    # --- LGPD -------------------------------------------------------------------------------

    async def erase(self, subject: str, *, by: Actor, reason: str) -> SubjectErased:
        """Destroy every key of the subject ``subject`` names (an e-mail, a user,
        token or company id, or a subject id), and record that it was done."""
        async with self.db.transaction() as session:
            ids = await self.subjects.find(session, subject)
            if not ids:
                raise NotFound("titular não encontrado / subject not found")
            entries = await repository.count_entries_of(session, ids)
            destroyed = await repository.destroy_subjects(session, ids, self.clock.now())
            erased = SubjectErased(
                subject_id=min(ids), entries=entries, keys_destroyed=destroyed, reason=reason[:200]
            )
            envelope = Envelope.of(erased, actor=by)
            self.queue(
                session,
                self.own_draft(
                    actor=by,
                    cause=envelope,
                    action="audit.subject_erased",
                    entity="subject",
                    entity_id=str(erased.subject_id),
                    after={"subjects": sorted(map(str, ids)), **erased.model_dump(mode="json")},
                ),
            )
            outbox.add(session, envelope, topic=AUDIT_LOG, key=str(erased.subject_id))
        await repository.compact_key_store(self.db)
        return erased

    async def apply_retention(self) -> dict[str, int]:
        """Destroy the keys of every month whose retention has run out."""
        now = self.clock.now()
        destroyed: dict[str, int] = {}
        async with self.db.transaction() as session:
            for category, days in self.settings.retention_days.items():
                before = period_of(now - timedelta(days=days))
                count = await repository.destroy_expired_keys(session, category, before)
                if count:
                    destroyed[category] = count
            if destroyed:
                self.queue(
                    session,
                    self.own_draft(
                        actor=SELF,
                        action="audit.retention_applied",
                        entity="retention",
                        entity_id=None,
                        after={
                            "keys_destroyed": destroyed,
                            "retention_days": self.settings.retention_days,
                        },
                    ),
                )
        return destroyed

    async def retention_loop(self) -> None:
        while True:
            await self.apply_retention()
            await asyncio.sleep(self.settings.retention_interval_s)

    def own_draft(
        self,
        *,
        actor: Actor,
        action: str,
        entity: str,
        entity_id: str | None,
        after: Any,
        company_id: UUID | None = None,
        ip: str | None = None,
        cause: Envelope[Any] | None = None,
    ) -> Draft:
        """An entry the audit service writes about its own work (reads,
        erasures, retention); ``cause`` is the message that asked for it."""
        return Draft(
            message_id=cause.id if cause is not None else new_id(),
            company_id=company_id,
            occurred_at=self.clock.now(),
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=None,
            after=sanitise(after),
            ip=ip,
            user_agent=None,
            topic=AUDIT_LOG.name,
            correlation_id=cause.correlation_id if cause is not None else new_id(),
            causation_id=cause.causation_id if cause is not None else None,
            trace_id=current_trace_id(),
        )

    # --- the first version's entries --------------------------------------------------------

    async def import_legacy(self) -> int:
        """Re-record the entries of the first version (kept in ``audit_entry_v1``
        by migration 0002): redacted and sealed like new ones, each naming the
        old sequence number and hash it came from, then drop the old table — it
        held secrets in the clear."""
        async with self.db.transaction() as session:
            if not await repository.legacy_table_exists(session):
                return 0
            rows = await repository.legacy_rows(session)
            drafts = [legacy_draft(row) for row in rows]
            for start in range(0, len(drafts), 1000):
                await self.append(session, drafts[start : start + 1000])
            await repository.drop_legacy_table(session)
        if rows:
            log.info("re-recorded %d entries of the first audit version", len(rows))
        return len(rows)


def legacy_draft(row: Any) -> Draft:
    """A first-version row as a draft (its facts were never redacted)."""

    def load(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def moment(value: Any) -> datetime:
        return datetime.fromisoformat(value) if isinstance(value, str) else value

    def text(value: Any, limit: int) -> str | None:
        return None if value is None else sanitise(str(value))[:limit]

    company = row["company_id"]
    occurred = moment(row["occurred_at"])
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)
    return Draft(
        message_id=UUID(str(row["message_id"])),
        company_id=UUID(str(company)) if company else None,
        occurred_at=occurred,
        actor_kind=str(row["actor_kind"]),
        actor_id=text(row["actor_id"], 200),
        action=text(row["action"], 100) or "",
        entity=text(row["entity"], 100) or "",
        entity_id=text(row["entity_id"], 255),
        before=sanitise(load(row["before"])),
        after=sanitise(load(row["after"])),
        ip=row["ip"],
        user_agent=text(row["user_agent"], 500),
        topic=str(row["topic"]),
        correlation_id=UUID(str(row["correlation_id"])),
        causation_id=UUID(str(row["causation_id"])) if row["causation_id"] else None,
        trace_id=row["trace_id"],
        migrated_from=f"v1:seq={row['seq']}:hash={row['hash']}",
    )


def _cipher_of(ciphers: dict[KeyId, AESGCM], category: str, period: str) -> Cipher:
    def cipher(subject: UUID) -> AESGCM:
        return ciphers[(subject, category, period)]

    return cipher


def _row(
    record: dict[str, Any], digest: str, draft: Draft, now: datetime, entry_id: UUID
) -> dict[str, Any]:
    return {
        **record,
        "id": entry_id,
        "message_id": draft.message_id,
        "company_id": draft.company_id,
        "occurred_at": draft.occurred_at,
        "recorded_at": now,
        "correlation_id": draft.correlation_id,
        "causation_id": draft.causation_id,
        "hash": digest,
    }
