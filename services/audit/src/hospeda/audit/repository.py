"""All SQL of the audit service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.audit.models import (
    APPEND_ONLY_TABLES,
    AuditEntry,
    ChainHead,
    Checkpoint,
    EntrySubject,
    LogHead,
    Subject,
    SubjectAlias,
    SubjectKey,
)
from hospeda.runtime.db import Database, dialect_of, insert_for, stable_lock_key

APPEND_LOCK = stable_lock_key("audit:append")

ENTRY: sa.Table = AuditEntry.__table__  # type: ignore[attr-defined]
ENTRY_SUBJECT: sa.Table = EntrySubject.__table__  # type: ignore[attr-defined]
CHECKPOINT: sa.Table = Checkpoint.__table__  # type: ignore[attr-defined]
CHAIN_HEAD: sa.Table = ChainHead.__table__  # type: ignore[attr-defined]
LOG_HEAD: sa.Table = LogHead.__table__  # type: ignore[attr-defined]
SUBJECT: sa.Table = Subject.__table__  # type: ignore[attr-defined]
ALIAS: sa.Table = SubjectAlias.__table__  # type: ignore[attr-defined]
KEY: sa.Table = SubjectKey.__table__  # type: ignore[attr-defined]
LEGACY = "audit_entry_v1"


# --- appending ------------------------------------------------------------------------------


async def lock_for_append(db: Database, session: AsyncSession) -> None:
    """One appender at a time across processes (leaf numbers are gap-free)."""
    await db.advisory_xact_lock(session, APPEND_LOCK)


async def log_head(session: AsyncSession) -> LogHead | None:
    row = (await session.execute(sa.select(LOG_HEAD).where(LOG_HEAD.c.id == 1))).first()
    return LogHead(**row._mapping) if row else None


async def create_log_head(session: AsyncSession, *, alias_secret: str) -> None:
    statement = insert_for(session, LOG_HEAD).values(
        id=1, tree_size=0, frontier="[]", alias_secret=alias_secret, checkpoints=0
    )
    await session.execute(statement.on_conflict_do_nothing())


async def save_log_head(
    session: AsyncSession, *, tree_size: int, frontier: str, checkpoints: int | None = None
) -> None:
    values: dict[str, Any] = {"tree_size": tree_size, "frontier": frontier}
    if checkpoints is not None:
        values["checkpoints"] = checkpoints
    await session.execute(sa.update(LOG_HEAD).where(LOG_HEAD.c.id == 1).values(**values))


async def known_messages(session: AsyncSession, ids: Sequence[UUID]) -> set[UUID]:
    if not ids:
        return set()
    result = await session.execute(sa.select(ENTRY.c.message_id).where(ENTRY.c.message_id.in_(ids)))
    return set(result.scalars().all())


async def chain_heads(session: AsyncSession, chains: Iterable[str]) -> dict[str, tuple[int, str]]:
    result = await session.execute(
        sa.select(CHAIN_HEAD.c.chain, CHAIN_HEAD.c.last_seq, CHAIN_HEAD.c.last_hash).where(
            CHAIN_HEAD.c.chain.in_(list(chains))
        )
    )
    return {row.chain: (row.last_seq, row.last_hash) for row in result}


async def save_chain_heads(session: AsyncSession, heads: dict[str, tuple[int, str]]) -> None:
    statement = insert_for(session, CHAIN_HEAD)
    statement = statement.on_conflict_do_update(
        index_elements=[CHAIN_HEAD.c.chain],
        set_={"last_seq": statement.excluded.last_seq, "last_hash": statement.excluded.last_hash},
    )
    await session.execute(
        statement,
        [{"chain": c, "last_seq": seq, "last_hash": h} for c, (seq, h) in heads.items()],
    )


async def insert_entries(
    session: AsyncSession, rows: list[dict[str, Any]], links: list[dict[str, Any]]
) -> None:
    await session.execute(sa.insert(ENTRY), rows)
    if links:
        await session.execute(sa.insert(ENTRY_SUBJECT), links)


# --- subjects and keys ----------------------------------------------------------------------


async def aliases(session: AsyncSession, names: Iterable[str]) -> dict[str, list[UUID]]:
    """Live (not erased) subjects of each alias, oldest first."""
    result = await session.execute(
        sa.select(ALIAS.c.alias, ALIAS.c.subject_id)
        .join(SUBJECT, SUBJECT.c.id == ALIAS.c.subject_id)
        .where(ALIAS.c.alias.in_(list(names)), SUBJECT.c.erased_at.is_(None))
        .order_by(SUBJECT.c.created_at, SUBJECT.c.id)
    )
    found: dict[str, list[UUID]] = {}
    for row in result:
        found.setdefault(row.alias, []).append(row.subject_id)
    return found


async def add_subjects(session: AsyncSession, ids: Sequence[UUID], now: datetime) -> None:
    if ids:
        await session.execute(sa.insert(SUBJECT), [{"id": i, "created_at": now} for i in ids])


async def add_aliases(session: AsyncSession, pairs: set[tuple[str, UUID]], now: datetime) -> None:
    if pairs:
        statement = insert_for(session, ALIAS).on_conflict_do_nothing()
        await session.execute(
            statement, [{"alias": a, "subject_id": s, "created_at": now} for a, s in pairs]
        )


async def sealed_keys(
    session: AsyncSession, wanted: Iterable[tuple[UUID, str, str]]
) -> dict[tuple[UUID, str, str], str]:
    wanted = list(wanted)
    if not wanted:
        return {}
    subjects = {w[0] for w in wanted}
    result = await session.execute(
        sa.select(KEY.c.subject_id, KEY.c.category, KEY.c.period, KEY.c.sealed).where(
            KEY.c.subject_id.in_(subjects)
        )
    )
    want = set(wanted)
    return {
        (r.subject_id, r.category, r.period): r.sealed
        for r in result
        if (r.subject_id, r.category, r.period) in want
    }


async def add_keys(
    session: AsyncSession, keys: dict[tuple[UUID, str, str], str], now: datetime
) -> None:
    if keys:
        await session.execute(
            sa.insert(KEY),
            [
                {"subject_id": s, "category": c, "period": p, "sealed": sealed, "created_at": now}
                for (s, c, p), sealed in keys.items()
            ],
        )


async def subject_ids(
    session: AsyncSession, alias_names: Iterable[str], direct: UUID | None
) -> set[UUID]:
    """Every subject (erased or not) an alias names, plus ``direct`` if it is one."""
    found = set(
        (
            await session.execute(
                sa.select(ALIAS.c.subject_id).where(ALIAS.c.alias.in_(list(alias_names)))
            )
        ).scalars()
    )
    if direct is not None:
        found |= set(
            (await session.execute(sa.select(SUBJECT.c.id).where(SUBJECT.c.id == direct))).scalars()
        )
    return found


async def destroy_subjects(session: AsyncSession, ids: set[UUID], now: datetime) -> int:
    """Delete the subjects' keys and aliases and mark them erased; keys destroyed."""
    destroyed = await session.execute(sa.delete(KEY).where(KEY.c.subject_id.in_(ids)))
    await session.execute(sa.delete(ALIAS).where(ALIAS.c.subject_id.in_(ids)))
    await session.execute(sa.update(SUBJECT).where(SUBJECT.c.id.in_(ids)).values(erased_at=now))
    return int(destroyed.rowcount or 0)  # type: ignore[attr-defined]


async def destroy_expired_keys(session: AsyncSession, category: str, before_period: str) -> int:
    result = await session.execute(
        sa.delete(KEY).where(KEY.c.category == category, KEY.c.period < before_period)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def compact_key_store(db: Database) -> None:
    """Rewrite the key table so destroyed keys leave no copy in its pages."""
    async with db.engine.connect() as connection:
        if db.is_postgres:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(sa.text("VACUUM FULL audit_subject_key, audit_subject_alias"))
        else:  # outside SQLAlchemy's transaction handling: VACUUM refuses to run inside one
            raw = await connection.get_raw_connection()
            await raw.driver_connection.execute("VACUUM")  # type: ignore[union-attr]


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What a reader narrows the log to (all optional)."""

    chain: str | None = None
    actor_id: str | None = None
    action: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    correlation_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_leaf: int | None = None
    visible_since: dict[str, datetime] | None = None  # per category: retention


def _where(filters: Filters) -> list[Any]:
    c = ENTRY.c
    clauses: list[Any] = []
    for column, value in (
        (c.chain, filters.chain),
        (c.actor_id, filters.actor_id),
        (c.entity, filters.entity),
        (c.entity_id, filters.entity_id),
        (c.correlation_id, filters.correlation_id),
    ):
        if value is not None:
            clauses.append(column == value)
    if filters.action is not None:
        if filters.action.endswith("*"):
            clauses.append(c.action.startswith(filters.action[:-1], autoescape=True))
        else:
            clauses.append(c.action == filters.action)
    if filters.since is not None:
        clauses.append(c.occurred_at >= filters.since)
    if filters.until is not None:
        clauses.append(c.occurred_at < filters.until)
    if filters.after_leaf is not None:
        clauses.append(c.leaf_index > filters.after_leaf)
    if filters.visible_since:
        clauses.append(
            sa.or_(
                *(
                    sa.and_(c.category == category, c.recorded_at >= cutoff)
                    for category, cutoff in filters.visible_since.items()
                )
            )
        )
    return clauses


async def entries(session: AsyncSession, filters: Filters, *, limit: int) -> list[AuditEntry]:
    statement = sa.select(ENTRY).where(*_where(filters)).order_by(ENTRY.c.leaf_index).limit(limit)
    return [AuditEntry(**row._mapping) for row in await session.execute(statement)]


async def entry(session: AsyncSession, entry_id: UUID) -> AuditEntry | None:
    row = (await session.execute(sa.select(ENTRY).where(ENTRY.c.id == entry_id))).first()
    return AuditEntry(**row._mapping) if row else None


async def entries_of(session: AsyncSession, subjects: set[UUID]) -> list[AuditEntry]:
    leaves = sa.select(ENTRY_SUBJECT.c.leaf_index).where(ENTRY_SUBJECT.c.subject_id.in_(subjects))
    statement = sa.select(ENTRY).where(ENTRY.c.leaf_index.in_(leaves)).order_by(ENTRY.c.leaf_index)
    return [AuditEntry(**row._mapping) for row in await session.execute(statement)]


async def count_entries_of(session: AsyncSession, subjects: set[UUID]) -> int:
    statement = sa.select(sa.func.count(sa.distinct(ENTRY_SUBJECT.c.leaf_index))).where(
        ENTRY_SUBJECT.c.subject_id.in_(subjects)
    )
    return int((await session.execute(statement)).scalar() or 0)


async def covering_checkpoints(
    session: AsyncSession, first_leaf: int, last_leaf: int
) -> list[Checkpoint]:
    """The checkpoints that first cover any leaf in ``first_leaf..last_leaf``."""
    c = CHECKPOINT.c
    inside = sa.select(CHECKPOINT).where(c.tree_size > first_leaf, c.tree_size <= last_leaf)
    after = sa.select(CHECKPOINT).where(c.tree_size > last_leaf).order_by(c.number).limit(1)
    rows = list(await session.execute(inside.order_by(c.number))) + list(
        await session.execute(after)
    )
    return [Checkpoint(**row._mapping) for row in rows]


async def latest_checkpoint(session: AsyncSession) -> Checkpoint | None:
    row = (
        await session.execute(sa.select(CHECKPOINT).order_by(CHECKPOINT.c.number.desc()).limit(1))
    ).first()
    return Checkpoint(**row._mapping) if row else None


async def checkpoint(session: AsyncSession, number: int) -> Checkpoint | None:
    row = (
        await session.execute(sa.select(CHECKPOINT).where(CHECKPOINT.c.number == number))
    ).first()
    return Checkpoint(**row._mapping) if row else None


async def add_checkpoint(session: AsyncSession, checkpoint: Checkpoint) -> None:
    await session.execute(sa.insert(CHECKPOINT).values(**checkpoint.model_dump()))


# --- verifying: everything, in order, without holding it all --------------------------------


async def stream_entries(db: Database, *, chunk: int = 20_000) -> AsyncIterator[Any]:
    """Every entry in leaf order, as plain rows (keyset pages on one connection)."""
    after = -1
    async with db.read() as connection:
        while True:
            rows = (
                await connection.execute(
                    sa.select(ENTRY)
                    .where(ENTRY.c.leaf_index > after)
                    .order_by(ENTRY.c.leaf_index)
                    .limit(chunk)
                )
            ).all()
            if not rows:
                return
            for row in rows:
                yield row
            after = rows[-1].leaf_index


async def all_checkpoints(connection: AsyncConnection) -> list[Checkpoint]:
    rows = await connection.execute(sa.select(CHECKPOINT).order_by(CHECKPOINT.c.number))
    return [Checkpoint(**row._mapping) for row in rows]


async def all_chain_heads(connection: AsyncConnection) -> dict[str, tuple[int, str]]:
    rows = await connection.execute(sa.select(CHAIN_HEAD))
    return {row.chain: (row.last_seq, row.last_hash) for row in rows}


async def head_size(connection: AsyncConnection) -> int | None:
    return (
        await connection.execute(sa.select(LOG_HEAD.c.tree_size).where(LOG_HEAD.c.id == 1))
    ).scalar()


@dataclass(frozen=True)
class Protection:
    """What stands between the writer role and an edit of the log."""

    role: str
    may_change: list[str]  # privileges the role holds beyond INSERT and SELECT
    triggers: list[str]  # append-only triggers found (on PostgreSQL: enabled always)
    missing_triggers: list[str]


async def protection(connection: AsyncConnection) -> Protection:
    dialect = connection.dialect.name
    if dialect != "postgresql":
        names = set(
            (
                await connection.execute(
                    sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                )
            ).scalars()
        )
        expected = {f"{t}_no_{op}" for t in APPEND_ONLY_TABLES for op in ("update", "delete")}
        return Protection(
            "sqlite file owner",
            ["UPDATE", "DELETE"],  # whoever can write the file can do anything
            sorted(expected & names),
            sorted(expected - names),
        )
    role = str((await connection.execute(sa.text("SELECT current_user"))).scalar())
    may: list[str] = []
    for table in APPEND_ONLY_TABLES:
        for privilege in ("UPDATE", "DELETE", "TRUNCATE"):
            granted = (
                await connection.execute(
                    sa.text("SELECT has_table_privilege(current_user, :t, :p)"),
                    {"t": table, "p": privilege},
                )
            ).scalar()
            if granted:
                may.append(f"{privilege} {table}")
    found = {
        row.tgname: row.enabled
        for row in await connection.execute(
            sa.text(
                "SELECT tgname, tgenabled::text AS enabled FROM pg_trigger WHERE NOT tgisinternal"
            )
        )
    }
    expected = {
        f"{t}_{kind}" for t in APPEND_ONLY_TABLES for kind in ("append_only", "no_truncate")
    }
    present = sorted(name for name in expected if found.get(name) == "A")
    return Protection(role, may, present, sorted(expected - set(present)))


# --- the first version's entries ------------------------------------------------------------


async def legacy_table_exists(session: AsyncSession) -> bool:
    def check(connection: sa.Connection) -> bool:
        return sa.inspect(connection).has_table(LEGACY)

    connection = await session.connection()
    return bool(await connection.run_sync(check))


async def legacy_rows(session: AsyncSession) -> list[Any]:
    result = await session.execute(sa.text(f"SELECT * FROM {LEGACY} ORDER BY seq"))  # noqa: S608
    return list(result.mappings())


async def drop_legacy_table(session: AsyncSession) -> None:
    await session.execute(sa.text(f"DROP TABLE {LEGACY}"))


def is_postgres(session: AsyncSession) -> bool:
    return dialect_of(session) == "postgresql"
