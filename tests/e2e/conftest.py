"""The whole platform as separate processes, for end-to-end tests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from hospeda.devstack.servers import free_port
from hospeda.devstack.stack import SERVICES, Stack
from hospeda.devstack.testing import DatabaseFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def platform_env() -> dict[str, str]:
    """Extra settings for every process of the platform (override in a module)."""
    return {}


@pytest.fixture
async def platform(
    kafka_bootstrap: str,
    redis_url: str,
    make_database_url: DatabaseFactory,
    tmp_path: Path,
    platform_env: dict[str, str],
) -> AsyncIterator[Stack]:
    databases = {name: await make_database_url(name) for name in (*SERVICES, "gateway")}
    environ = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "HOSPEDA_ENV": "test",
        "HOSPEDA_KAFKA_SESSION_TIMEOUT_MS": "2000",
        **platform_env,
    }
    stack = Stack(
        root=ROOT,
        gateway_port=free_port(),
        environ=environ,
        database_urls=databases,
        data_dir=tmp_path / "stack",
        echo=False,
    )
    try:
        await stack.start()
        yield stack
    finally:
        await stack.stop()
        if os.environ.get("HOSPEDA_E2E_LOGS"):
            for name, lines in stack.output.items():
                print(f"--- {name}\n" + "".join(lines[-50:]))


@pytest.fixture
async def gateway(platform: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{platform.gateway_port}", timeout=10
    ) as client:
        yield client
