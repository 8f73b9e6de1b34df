"""What every benchmark needs: a broker, a fresh database, a table of results."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from hospeda.devstack.servers import start_broker
from hospeda.runtime.db import async_url

RESULTS = Path(__file__).parent / "results"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class Report:
    """Figures collected during one ``make bench``."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, area: str, scenario: str, value: float, unit: str, **details: Any) -> None:
        self.rows.append(
            {"area": area, "scenario": scenario, "value": round(value, 2), "unit": unit, **details}
        )
        print(f"  {area:<14} {scenario:<58} {value:>12,.1f} {unit}", flush=True)

    def save(self) -> Path:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
        path.write_text(json.dumps({"machine": machine(), "results": self.rows}, indent=2))
        return path


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


async def postgres_admin_url() -> str | None:
    """The PostgreSQL to create benchmark databases on, if one answers."""
    url = (
        os.environ.get("BENCH_DATABASE_URL")
        or os.environ.get("TEST_DATABASE_URL")
        or DEFAULT_POSTGRES
    )
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        return url
    except Exception:
        return None
    finally:
        await engine.dispose()


@asynccontextmanager
async def fresh_database(admin_url: str | None, tmp: Path, name: str) -> AsyncIterator[str]:
    if admin_url is None:
        yield f"sqlite+aiosqlite:///{tmp / name}.db"
        return
    database = f"hospeda_bench_{name}_{uuid.uuid4().hex[:8]}"
    engine = create_async_engine(async_url(admin_url), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    try:
        yield (
            make_url(async_url(admin_url))
            .set(database=database)
            .render_as_string(hide_password=False)
        )
    finally:
        async with engine.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        await engine.dispose()


@asynccontextmanager
async def broker(tmp: Path) -> AsyncIterator[str]:
    server = await asyncio.to_thread(start_broker, log_file=tmp / "tansu.log")
    try:
        yield server.url
    finally:
        server.stop()


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
