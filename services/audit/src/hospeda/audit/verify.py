"""Checking the log: every entry's hash and chain link, the Merkle tree against
every signed checkpoint, each checkpoint extending the one before it
(consistency proofs); and the inclusion and consistency proof documents an
outside party checks with nothing but SHA-256 and Ed25519 (format in the
service README).

Problems are named by kind — ``altered``, ``removed``, ``inserted``,
``reordered`` or ``forged`` — and the first one found, in log order, is what
``verify`` reports first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hospeda.audit import repository
from hospeda.audit.domain import GENESIS, AuditError, Note, canonical, key_id_of, timestamp
from hospeda.audit.merkle import Tree, leaf_hash, verify_consistency, verify_inclusion
from hospeda.audit.models import Checkpoint
from hospeda.runtime.db import Database

INCLUSION_FORMAT = "hospeda-audit-inclusion/v1"
CONSISTENCY_FORMAT = "hospeda-audit-consistency/v1"
RECENT = 64  # how far back a chain link may point and still be read as a reordering


def record_of(entry: Any) -> dict[str, Any]:
    """The record an entry was hashed over, rebuilt from its stored columns."""

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return {
        "v": entry.v,
        "leaf_index": entry.leaf_index,
        "id": str(entry.id),
        "message_id": str(entry.message_id),
        "chain": entry.chain,
        "seq": entry.seq,
        "company_id": text(entry.company_id),
        "occurred_at": timestamp(entry.occurred_at),
        "recorded_at": timestamp(entry.recorded_at),
        "actor_kind": entry.actor_kind,
        "actor_id": entry.actor_id,
        "action": entry.action,
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "before": entry.before,
        "after": entry.after,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "topic": entry.topic,
        "correlation_id": str(entry.correlation_id),
        "causation_id": text(entry.causation_id),
        "trace_id": entry.trace_id,
        "category": entry.category,
        "migrated_from": entry.migrated_from,
        "prev_hash": entry.prev_hash,
    }


@dataclass
class Problem:
    kind: str  # altered | removed | inserted | reordered | forged
    detail: str
    leaf_index: int | None = None
    entry_id: str | None = None
    chain: str | None = None
    seq: int | None = None

    def text(self) -> str:
        where = []
        if self.entry_id:
            where.append(f"entry {self.entry_id}")
        if self.chain:
            where.append(f"chain {self.chain} seq {self.seq}")
        if self.leaf_index is not None:
            where.append(f"leaf {self.leaf_index}")
        return f"{self.kind.upper()}: {self.detail}" + (f" ({', '.join(where)})" if where else "")


@dataclass
class Report:
    entries: int = 0
    chains: int = 0
    checkpoints: int = 0
    tree_size: int = 0
    root_hash: str = ""
    uncovered: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        located = [p for p in self.problems if p.leaf_index is not None]
        if located:
            return min(located, key=lambda p: p.leaf_index or 0)
        return self.problems[0] if self.problems else None

    def summary(self) -> str:
        lines = [
            f"entries: {self.entries} in {self.chains} chains; tree size {self.tree_size}, "
            f"root {self.root_hash}",
            f"checkpoints: {self.checkpoints} (entries after the last one: {self.uncovered})",
            *self.notes,
        ]
        if self.ok:
            lines.append("OK: every hash, chain link, signature and consistency proof checks")
        else:
            first = self.first
            assert first is not None
            lines.append(f"BROKEN: {len(self.problems)} problem(s); first: {first.text()}")
            lines += [f"  - {p.text()}" for p in self.problems[:50]]
        return "\n".join(lines)


@dataclass
class _ChainState:
    seq: int
    hash: str
    recent: deque[str]


class Walk:
    """Feeds on the entries in leaf order; collects problems and leaf hashes."""

    def __init__(self, *, company: str | None = None) -> None:
        self.company = company
        self.leaves = bytearray()
        self.count = 0
        self.chains: dict[str, _ChainState] = {}
        self.problems: dict[int, Problem] = {}
        self.loose: list[Problem] = []
        # (chain, hash) → where the entry that links to that (unseen) hash is
        self._wanted: dict[tuple[str, str], tuple[int, str, str, int]] = {}

    def add(self, entry: Any) -> None:
        data = canonical(record_of(entry))
        computed = hashlib.sha256(data).hexdigest()
        self.leaves += leaf_hash(data)
        position, self.count = self.count, self.count + 1
        leaf = entry.leaf_index
        if leaf != position:
            self._note(
                Problem(
                    "removed" if leaf > position else "inserted",
                    f"the entry at leaf {position} is missing (the next one is leaf {leaf})"
                    if leaf > position
                    else f"leaf {leaf} appears again at position {position}",
                    leaf,
                    str(entry.id),
                    entry.chain,
                    entry.seq,
                )
            )
        if self.company is not None and entry.chain != self.company:
            return
        self._link(entry, computed)

    def _link(self, entry: Any, computed: str) -> None:
        chain, leaf = entry.chain, entry.leaf_index
        where = (leaf, str(entry.id), chain, entry.seq)
        state = self.chains.get(chain)
        expected_seq = state.seq + 1 if state else 1
        expected_prev = state.hash if state else GENESIS
        linked_from = self._wanted.pop((chain, entry.hash), None)
        if linked_from is not None:
            self.problems[linked_from[0]] = Problem(
                "reordered",
                f"this entry links to a later one (entry {entry.id}, seq {entry.seq})",
                *linked_from,
            )
            self.problems.pop(leaf, None)
        elif computed != entry.hash:
            self._note(Problem("altered", "its fields no longer hash to its stored hash", *where))
        if entry.seq > expected_seq:
            self._note(
                Problem(
                    "removed",
                    f"seq {expected_seq}..{entry.seq - 1} of the chain are missing before it",
                    *where,
                )
            )
        elif entry.seq < expected_seq:
            self._note(
                Problem("inserted", f"seq {entry.seq} follows seq {expected_seq - 1}", *where)
            )
        elif entry.prev_hash != expected_prev and linked_from is None:
            if state is not None and entry.prev_hash in state.recent:
                self.problems.setdefault(
                    leaf,
                    Problem(
                        "reordered", "it links to an earlier entry, not its predecessor", *where
                    ),
                )
            else:
                self._wanted[(chain, entry.prev_hash)] = where
                self._note(
                    Problem(
                        "inserted",
                        "it does not link to the entry before it (or that one was rewritten "
                        "with a new hash)",
                        *where,
                    )
                )
        recent = state.recent if state else deque(maxlen=RECENT)
        recent.append(entry.hash)
        self.chains[chain] = _ChainState(entry.seq, entry.hash, recent)

    def _note(self, problem: Problem) -> None:
        if problem.leaf_index is None:
            self.loose.append(problem)
            return
        known = self.problems.setdefault(problem.leaf_index, problem)
        if known is not problem and known.kind == problem.kind:
            known.detail += f"; {problem.detail}"


Verifier = Callable[[str, str, bytes], bool]
"""``(key_id, signature_b64, data) → valid``: the trusted keys' check."""


def check_checkpoints(
    tree: Tree, checkpoints: Sequence[Checkpoint], verify_signature: Verifier, report: Report
) -> None:
    previous: Note | None = None
    for checkpoint in checkpoints:
        label = f"checkpoint {checkpoint.number}"
        try:
            note = Note.parse(checkpoint.note)
        except AuditError as exc:
            report.problems.append(Problem("forged", f"{label}: {exc}"))
            continue
        if (
            note.tree_size != checkpoint.tree_size
            or note.root_hash.hex() != checkpoint.root_hash
            or note.key_id != checkpoint.key_id
        ):
            report.problems.append(Problem("forged", f"{label}: its columns differ from its note"))
        if not verify_signature(note.key_id, checkpoint.signature, checkpoint.note.encode()):
            report.problems.append(
                Problem("forged", f"{label}: the signature does not verify with key {note.key_id}")
            )
            continue
        if previous is not None and note.tree_size < previous.tree_size:
            report.problems.append(Problem("removed", f"{label} is smaller than the one before"))
        if note.tree_size > tree.size:
            report.problems.append(
                Problem(
                    "removed",
                    f"{label} signed {note.tree_size} entries; the log holds {tree.size}",
                    leaf_index=tree.size,
                )
            )
        elif tree.root(note.tree_size) != note.root_hash:
            report.problems.append(
                Problem(
                    "altered",
                    f"the first {note.tree_size} entries no longer hash to {label}'s root",
                )
            )
        elif previous is not None and 0 < previous.tree_size <= note.tree_size:
            proof = tree.consistency_proof(previous.tree_size, note.tree_size)
            if not verify_consistency(
                previous.tree_size, note.tree_size, proof, previous.root_hash, note.root_hash
            ):
                report.problems.append(Problem("forged", f"{label} does not extend the one before"))
        previous = note
    report.checkpoints = len(checkpoints)
    report.uncovered = tree.size - (previous.tree_size if previous else 0)


async def verify_log(
    db: Database, verify_signature: Verifier, *, company: str | None = None
) -> Report:
    """Recompute everything from the stored entries (see the module docstring)."""
    walk = Walk(company=company)
    async for row in repository.stream_entries(db):
        walk.add(row)
    report = Report(entries=walk.count, chains=len(walk.chains))
    async with db.read() as connection:
        checkpoints = await repository.all_checkpoints(connection)
        heads = await repository.all_chain_heads(connection)
        head_size = await repository.head_size(connection)
        guard = await repository.protection(connection)
    tree = Tree(bytes(walk.leaves))
    report.tree_size, report.root_hash = tree.size, tree.root().hex()
    check_checkpoints(tree, checkpoints, verify_signature, report)
    if head_size is not None and head_size != tree.size:
        kind = "removed" if head_size > tree.size else "inserted"
        report.problems.append(
            Problem(kind, f"the log head counts {head_size} entries; the table holds {tree.size}")
        )
    for chain, (last_seq, _) in heads.items():
        if company is not None and chain != company:
            continue
        seen = walk.chains.get(chain)
        if seen is None or seen.seq != last_seq:
            kind = "removed" if seen is None or seen.seq < last_seq else "inserted"
            report.problems.append(
                Problem(
                    kind,
                    f"its head says seq {last_seq}; the entries end at {seen.seq if seen else 0}",
                    chain=chain,
                    seq=last_seq,
                )
            )
    report.problems = [
        *sorted(walk.problems.values(), key=lambda p: p.leaf_index or 0),
        *walk.loose,
        *report.problems,
    ]
    changes = ", ".join(guard.may_change) or "nothing beyond INSERT and SELECT"
    report.notes.append(f"writer role {guard.role}: may {changes}")
    report.notes.append(
        "append-only triggers: "
        + ("all present" if not guard.missing_triggers else f"MISSING {guard.missing_triggers}")
    )
    if guard.missing_triggers:
        report.problems.append(
            Problem("altered", f"append-only triggers missing: {guard.missing_triggers}")
        )
    return report


# --- proofs for outside parties ---------------------------------------------------------------


async def _tree(db: Database) -> Tree:
    leaves = bytearray()
    async for row in repository.stream_entries(db):
        leaves += leaf_hash(canonical(record_of(row)))
    return Tree(bytes(leaves))


def checkpoint_document(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "number": checkpoint.number,
        "note": checkpoint.note,
        "signature": checkpoint.signature,
        "public_key": checkpoint.public_key,
        "key_id": checkpoint.key_id,
    }


async def inclusion_document(db: Database, entry_id: Any, checkpoint: Checkpoint) -> dict[str, Any]:
    """Everything an outside tool needs to check that an entry is in the log
    as signed by ``checkpoint``."""
    async with db.transaction() as session:
        entry = await repository.entry(session, UUID(str(entry_id)))
    if entry is None:
        raise AuditError(f"no entry {entry_id}")
    if entry.leaf_index >= checkpoint.tree_size:
        raise AuditError(
            f"entry {entry_id} (leaf {entry.leaf_index}) is newer than checkpoint "
            f"{checkpoint.number} ({checkpoint.tree_size} entries): wait for the next one"
        )
    tree = await _tree(db)
    record = canonical(record_of(entry)).decode()
    return {
        "format": INCLUSION_FORMAT,
        "entry_id": str(entry.id),
        "record": record,
        "leaf_index": entry.leaf_index,
        "tree_size": checkpoint.tree_size,
        "proof": [
            node.hex() for node in tree.inclusion_proof(entry.leaf_index, checkpoint.tree_size)
        ],
        "checkpoint": checkpoint_document(checkpoint),
    }


async def consistency_document(
    db: Database, old_size: int, checkpoint: Checkpoint
) -> dict[str, Any]:
    """The proof that the log of ``old_size`` entries (a checkpoint you kept)
    is a prefix of the one ``checkpoint`` signs."""
    tree = await _tree(db)
    if not 0 < old_size <= checkpoint.tree_size:
        raise AuditError(f"the old size must be between 1 and {checkpoint.tree_size}")
    return {
        "format": CONSISTENCY_FORMAT,
        "old_size": old_size,
        "old_root": tree.root(old_size).hex(),
        "tree_size": checkpoint.tree_size,
        "proof": [node.hex() for node in tree.consistency_proof(old_size, checkpoint.tree_size)],
        "checkpoint": checkpoint_document(checkpoint),
    }


def _signed_note(document: dict[str, Any], trusted: dict[str, bytes]) -> Note:
    checkpoint = document["checkpoint"]
    note = Note.parse(checkpoint["note"])
    public = trusted.get(note.key_id)
    if public is None or key_id_of(public) != note.key_id:
        raise AuditError(f"checkpoint signed by a key you do not trust ({note.key_id})")
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(
            base64.b64decode(checkpoint["signature"], validate=True), checkpoint["note"].encode()
        )
    except (InvalidSignature, binascii.Error, ValueError):
        raise AuditError("the checkpoint's signature does not verify") from None
    return note


def check_document(document: dict[str, Any], trusted: dict[str, bytes]) -> Note:
    """Check an inclusion or consistency document against trusted public keys
    (key id → raw Ed25519 public key); raises ``AuditError`` when it fails."""
    note = _signed_note(document, trusted)
    proof = [bytes.fromhex(node) for node in document["proof"]]
    if document["tree_size"] != note.tree_size:
        raise AuditError("the document's tree size is not the checkpoint's")
    if document["format"] == INCLUSION_FORMAT:
        leaf = leaf_hash(document["record"].encode())
        if not verify_inclusion(
            leaf, document["leaf_index"], note.tree_size, proof, note.root_hash
        ):
            raise AuditError("the inclusion proof does not lead to the checkpoint's root")
    elif document["format"] == CONSISTENCY_FORMAT:
        old_root = bytes.fromhex(document["old_root"])
        if not verify_consistency(
            document["old_size"], note.tree_size, proof, old_root, note.root_hash
        ):
            raise AuditError("the consistency proof does not hold")
    else:
        raise AuditError(f"unknown document format {document.get('format')!r}")
    return note
