"""Request/reply over Kafka: answers, errors and a clean timeout."""

from __future__ import annotations

import time
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from rtkit import audit_router, make_settings

from hospeda.contracts import Actor
from hospeda.runtime.errors import NotFound, QueryFailed, QueryTimeout
from hospeda.runtime.messaging import QueryContext
from hospeda.runtime.rpc import QueryClient
from hospeda.runtime.service import ServiceRuntime

ASKER = Actor(kind="user", id="u-1")


@pytest.fixture
async def client(kafka_bootstrap: str, producer: AIOKafkaProducer):
    query_client = QueryClient(
        bootstrap_servers=kafka_bootstrap, producer=producer, instance_id="test-gw", timeout=2.0
    )
    await query_client.start()
    yield query_client
    await query_client.stop()


@pytest.fixture
async def answering_service(database_url: str, kafka_bootstrap: str):
    router = audit_router()
    router.service = "billing"  # answer on billing.queries.v1

    @router.query("echo")
    async def echo(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        return {"params": params, "company": str(ctx.company_id), "asked_by": ctx.actor.id}

    @router.query("missing")
    async def missing(params: dict[str, Any], ctx: QueryContext) -> None:
        raise NotFound("fatura não encontrada / invoice not found")

    runtime = ServiceRuntime(make_settings(database_url, kafka_bootstrap), router=router)
    await runtime.start()
    yield runtime
    await runtime.stop()


async def test_a_query_is_answered(client: QueryClient, answering_service: ServiceRuntime) -> None:
    from uuid import uuid4

    company = uuid4()
    answer = await client.ask("billing", "echo", {"n": 1}, actor=ASKER, company_id=company)
    assert answer == {"params": {"n": 1}, "company": str(company), "asked_by": "u-1"}


async def test_errors_come_back_as_errors(
    client: QueryClient, answering_service: ServiceRuntime
) -> None:
    with pytest.raises(QueryFailed) as not_found:
        await client.ask("billing", "missing", actor=ASKER)
    assert not_found.value.code == "not_found"
    assert "invoice not found" in not_found.value.message
    with pytest.raises(QueryFailed) as unknown:
        await client.ask("billing", "no-such-query", actor=ASKER)
    assert unknown.value.code == "unknown_query"


async def test_a_query_nobody_answers_times_out_cleanly(client: QueryClient) -> None:
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match=r"dns did not answer 'zone\.get' within 0\.5s"):
        await client.ask("dns", "zone.get", actor=ASKER, timeout=0.5)
    assert time.monotonic() - started < 3  # bounded: never a hang
    assert client._pending == {}  # nothing left waiting
