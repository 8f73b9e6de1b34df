"""Async database access: one engine per service, one place that commits.

``Database.transaction()`` is the unit of work: it yields a session, and on
leaving the block writes the buffered outbox and inbox rows and commits — or
rolls everything back if the block raised. Nothing else commits.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.runtime import outbox, telemetry

# SQLModel nudges every ``execute`` towards ``exec``; the runtime runs Core
# INSERT/UPDATE/DELETE statements on purpose, where ``exec`` does not apply.
warnings.filterwarnings(
    "ignore", message=r"\s*🚨 You probably want to use `session.exec", category=DeprecationWarning
)

BeforeCommit = Callable[[AsyncSession], Awaitable[None]]


def async_url(url: str) -> str:
    """Accept plain ``postgresql://`` and ``sqlite:///`` URLs and pick the async driver."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def dialect_of(session: AsyncSession) -> str:
    """``postgresql`` or ``sqlite`` (an unbound session is taken for PostgreSQL)."""
    return session.bind.dialect.name if session.bind is not None else "postgresql"


def insert_for(session: AsyncSession, table: Any) -> Any:
    """An INSERT with the dialect's ``ON CONFLICT`` clauses (PostgreSQL or SQLite)."""
    return (postgresql.insert if dialect_of(session) == "postgresql" else sqlite.insert)(table)


class Database:
    """A service's database: engine, sessions and the unit of work."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self.is_postgres = self.url.startswith("postgresql")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_postgres:
            # No pre-ping: with asyncpg it costs three round trips on every checkout.
            # A connection found dead fails its one request and invalidates the pool
            # (SQLAlchemy's disconnect handling); recycling retires idle ones.
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
        if self.is_sqlite:
            kwargs.update(connect_args={"timeout": 30})
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _tune_sqlite(self.engine)
        telemetry.instrument_engine(self.engine)
        self.reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(
            self.reader,
            class_=AsyncSession,
            sync_session_class=_ReadOnlySession,
            expire_on_commit=False,
            autoflush=False,
        )
        self._before_commit: list[BeforeCommit] = []
        self._after_commit: list[Callable[[AsyncSession], None]] = []

    def before_commit(self, hook: BeforeCommit) -> None:
        """Run ``hook`` inside every transaction just before it commits."""
        self._before_commit.append(hook)

    def after_commit(self, hook: Callable[[AsyncSession], None]) -> None:
        """Call ``hook`` after every successful commit (used to wake the relay
        and job workers)."""
        self._after_commit.append(hook)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """The unit of work: commit on success, roll back on any exception."""
        async with self.sessions() as session:
            async with session.begin():
                yield session
                await outbox.write_pending(session)
                for hook in self._before_commit:
                    await hook(session)
            for after in self._after_commit:
                after(session)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads outside any unit of work: each statement runs
        on its own (autocommit), so a one-query read is one round trip."""
        async with self.reader.connect() as connection:
            yield connection

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """An ORM session for reads outside any unit of work: each statement runs on
        its own (no BEGIN and COMMIT round trips), for pages that only show things.
        It cannot write: anything added to it is refused at the flush."""
        async with self._read_sessions() as session:
            yield session

    async def advisory_xact_lock(
        self, session: AsyncSession, key: int, *, wait: bool = True
    ) -> bool:
        """Serialise a critical section across processes for the rest of the
        transaction. PostgreSQL advisory lock; SQLite already serialises writers
        (transactions begin IMMEDIATE), so it is always granted there."""
        if not self.is_postgres:
            return True
        if wait:
            await session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
            return True
        result = await session.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})
        return bool(result.scalar())

    async def dispose(self) -> None:
        await self.engine.dispose()


class _ReadOnlySession(Session):
    """The sessions of ``Database.reading``: a flush with changes is refused."""


@event.listens_for(_ReadOnlySession, "before_flush")
def _refuse_writes(session: Session, *_: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a reading() session cannot write: use Database.transaction()")


def _tune_sqlite(engine: AsyncEngine) -> None:
    # pysqlite's own transaction handling begins lazily and can deadlock two
    # writers; take the write lock at BEGIN instead and let busy_timeout queue us.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # reads outside a unit of work (``read``, ``reading``) take no write lock
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def stable_lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` from a name."""
    import hashlib

    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
