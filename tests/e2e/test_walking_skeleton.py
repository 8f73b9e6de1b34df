"""One request at the gateway crosses billing, provisioning, dns and notify
through Kafka, is recorded by audit, and is read back — on one trace."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from hospeda.contracts import Actor
from hospeda.devstack.stack import Stack
from hospeda.runtime.rpc import QueryClient

pytestmark = pytest.mark.e2e


@pytest.fixture
def platform_env() -> dict[str, str]:
    """Demo mode: anyone may start a probe (otherwise a signed-in staff member)."""
    return {"HOSPEDA_DEMO": "1"}


async def wait_for_probe(gateway: httpx.AsyncClient, url: str, *, timeout: float = 30) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await gateway.get(url)
        if response.status_code == 200:
            return response.json()
        assert response.status_code in (404, 503), response.text
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"probe not completed in {timeout:.0f}s: {response.text}")
        await asyncio.sleep(0.1)


async def test_a_probe_crosses_every_service_on_one_trace(
    gateway: httpx.AsyncClient, platform: Stack, kafka_bootstrap: str
) -> None:
    started = await gateway.post("/api/v1/ops/probes")
    assert started.status_code == 202
    probe = await wait_for_probe(gateway, started.json()["status_url"])

    assert [hop["service"] for hop in probe["hops"]] == [
        "gateway",
        "billing",
        "provisioning",
        "dns",
        "notify",
    ]
    trace_ids = {hop["trace_id"] for hop in probe["hops"]}
    assert len(trace_ids) == 1 and None not in trace_ids, probe["hops"]
    assert probe["correlation_id"] == started.json()["correlation_id"]

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    client = QueryClient(
        bootstrap_servers=kafka_bootstrap, producer=producer, instance_id="e2e-test"
    )
    await client.start()
    try:

        async def audited() -> list[dict]:
            page = await client.ask(
                "audit",
                "entries.list",
                {"correlation_id": probe["correlation_id"]},
                actor=Actor(kind="staff", id="auditor"),
            )
            return page["items"]

        entries = await audited()
        for _ in range(100):
            if len(entries) >= 6:
                break
            await asyncio.sleep(0.1)
            entries = await audited()
    finally:
        await client.stop()
        await producer.stop()
    topics = sorted(
        entry["topic"] for entry in entries
    )  # audit reads many topics: no order across them
    assert topics == [
        "audit.records.v1",  # the gateway's record of who started the probe
        "billing.commands.v1",
        "dns.commands.v1",
        "notify.commands.v1",
        "ops.probe.v1",
        "provisioning.commands.v1",
    ]
    assert {entry["trace_id"] for entry in entries} == trace_ids
    assert all(len(entry["hash"]) == 64 for entry in entries)


async def test_reading_a_probe_that_does_not_exist_is_a_clean_404(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.get("/api/v1/ops/probes/01a224e6-a9f3-760b-8dfa-495892ad737f")
    assert response.status_code == 404
    assert "probe not completed" in response.json()["detail"]
