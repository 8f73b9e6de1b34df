"""Reads outside a unit of work: one round trip per statement, no locks, no writes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hospeda.runtime.db import Database


class Note(SQLModel, table=True):
    __tablename__ = "runtime_test_note"
    id: int = Field(primary_key=True)
    text: str


async def _database(url: str) -> Database:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda c: Note.__table__.drop(c, checkfirst=True))  # type: ignore[attr-defined]
        await conn.run_sync(lambda c: Note.__table__.create(c))  # type: ignore[attr-defined]
    async with db.transaction() as session:
        session.add(Note(id=1, text="primeira"))
    return db


async def test_a_reading_session_reads_but_refuses_to_write(database_url: str) -> None:
    db = await _database(database_url)
    try:
        async with db.reading() as session:
            assert (await session.get(Note, 1)) is not None
            session.add(Note(id=2, text="escondida"))
            with pytest.raises(RuntimeError, match="cannot write"):
                await session.flush()
        async with db.reading() as session:
            note = await session.get(Note, 1)
            assert note is not None
            note.text = "mudada"
            with pytest.raises(RuntimeError, match="cannot write"):
                await session.flush()
        async with db.read() as conn:
            rows = (await conn.execute(sa.select(Note.__table__.c.text))).scalars().all()  # type: ignore[attr-defined]
        assert rows == ["primeira"]
    finally:
        await db.dispose()


async def test_a_read_on_sqlite_holds_no_write_lock(tmp_path: Path) -> None:
    """Units of work on SQLite take the write lock at BEGIN; a read outside one
    must not, or every page would wait for every writer (`make run`)."""
    db = await _database(f"sqlite:///{tmp_path / 'notes.db'}")
    try:
        async with db.reading() as session:
            assert (await session.get(Note, 1)) is not None
            # the read's connection is still checked out: a writer gets through at once

            async def write() -> None:
                async with db.transaction() as writer:
                    writer.add(Note(id=3, text="escrita durante a leitura"))

            await asyncio.wait_for(write(), timeout=5)
    finally:
        await db.dispose()
