"""Pytest fixtures for real servers: a Kafka-protocol broker, Redis and a
database per test.

- ``kafka_bootstrap``: ``KAFKA_BOOTSTRAP_SERVERS`` if set, else a fresh Tansu
  broker per test (memory storage, ~50 ms to start), so no test sees
  another's messages or consumer offsets.
- ``redis_url``: ``REDIS_URL`` if set, else a Redis started for the session;
  flushed before each test.
- ``database_url``: a fresh PostgreSQL database per test when
  ``TEST_DATABASE_URL`` is set (dropped afterwards), else a SQLite file.
  ``make_database_url`` makes more (one per service in end-to-end tests).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from hospeda.devstack.servers import Server, start_broker, start_redis
from hospeda.runtime.db import async_url


@pytest.fixture(scope="session")
def _session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hospeda")


@pytest.fixture
def kafka_bootstrap(tmp_path: Path) -> Iterator[str]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    server = start_broker(log_file=tmp_path / "tansu.log")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _redis_server(_session_dir: Path) -> Iterator[str]:
    configured = os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    server: Server = start_redis(workdir=_session_dir / "redis")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def redis_url(_redis_server: str) -> AsyncIterator[str]:
    import redis.asyncio as redis

    client = redis.from_url(_redis_server)
    await client.flushdb()
    await client.aclose()
    return _redis_server


DatabaseFactory = Callable[[str], Awaitable[str]]


@pytest.fixture
async def make_database_url(tmp_path: Path) -> AsyncIterator[DatabaseFactory]:
    admin_url = os.environ.get("TEST_DATABASE_URL")
    created: list[str] = []

    async def make(name: str = "db") -> str:
        if not admin_url:
            return f"sqlite+aiosqlite:///{tmp_path / name}.db"
        database = f"hospeda_t_{name}_{uuid.uuid4().hex[:10]}"
        engine = create_async_engine(async_url(admin_url), isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
        await engine.dispose()
        created.append(database)
        return (
            make_url(async_url(admin_url))
            .set(database=database)
            .render_as_string(hide_password=False)
        )

    yield make
    if admin_url and created:
        engine = create_async_engine(async_url(admin_url), isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            for database in created:
                await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        await engine.dispose()


@pytest.fixture
async def database_url(make_database_url: DatabaseFactory) -> str:
    return await make_database_url("db")


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool],
    *,
    timeout: float = 15.0,
    interval: float = 0.05,
    message: str = "condition",
) -> None:
    """Wait until ``check()`` is true, or fail the test naming ``message``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message}")
        await asyncio.sleep(interval)


# --- a real browser: Debian's Chromium, driven by Playwright ----------------------------------

SCREENSHOTS = Path(__file__).resolve().parents[5] / "docs" / "screenshots"
"""Where browser tests save the pages they look at (the README shows two)."""


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Any]:
    """Headless Chromium from the system (``make install`` puts Debian's there);
    Playwright never downloads a browser here."""
    import shutil

    from playwright.async_api import async_playwright

    path = shutil.which("chromium")
    if path is None:
        pytest.fail("no chromium on PATH: run `make install` (deploy/dev/install-browser.sh)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, headless=True)
        yield browser
        await browser.close()


async def screenshot(page: Any, name: str, widths: tuple[int, ...] = (390, 1280)) -> None:
    """Save ``page`` at a phone's and a desktop's width as docs/screenshots/<name>-<width>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    for width in widths:
        await page.set_viewport_size({"width": width, "height": 844 if width < 600 else 900})
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    if before:
        await page.set_viewport_size(before)
