"""What ``make run`` gives provisioning: the platform starts simulated WHM
servers as processes of their own, points provisioning at them, and an
account ordered over Kafka is created on one of them."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer

from hospeda.contracts import Actor, Envelope, new_id
from hospeda.contracts.provisioning import CreateAccount
from hospeda.contracts.topics import PROVISIONING_COMMANDS
from hospeda.devstack.stack import Stack
from hospeda.runtime.broker import publish
from hospeda.runtime.errors import QueryFailed
from hospeda.runtime.rpc import QueryClient

pytestmark = pytest.mark.e2e


async def test_an_account_is_created_on_a_simulated_whm_server(
    platform: Stack, kafka_bootstrap: str
) -> None:
    assert {"whm-sim-1", "whm-sim-2"} <= set(platform.running)
    company, service_id = new_id(), new_id()
    command = CreateAccount(
        service_id=service_id,
        domain="ponta-a-ponta.com.br",
        plan_code="basico",
        whm_package="hospeda_basico",
        contact_email="dono@ponta-a-ponta.com.br",
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    client = QueryClient(
        bootstrap_servers=kafka_bootstrap, producer=producer, instance_id="e2e-prov"
    )
    await client.start()
    try:
        envelope = Envelope.of(command, actor=Actor.system("billing"), company_id=company)
        await publish(producer, envelope, topic=PROVISIONING_COMMANDS, key=service_id)
        service: dict = {}
        for _ in range(300):
            try:
                service = await client.ask(
                    "provisioning",
                    "services.get",
                    {"service_id": str(service_id)},
                    actor=Actor(kind="user", id="dono"),
                    company_id=company,
                    timeout=5,
                )
            except QueryFailed as exc:
                if exc.code != "not_found":  # not_found: the command is not consumed yet
                    raise
            else:
                # the job's own success commits just after the service's state
                if service["state"] != "pending" and service["last_job"]["state"] != "running":
                    break
            await asyncio.sleep(0.1)
    finally:
        await client.stop()
        await producer.stop()
    assert service["state"] == "active", service.get("last_job")
    assert service["server"] in ("whm1", "whm2") and service["username"] == "pontaapo"
    assert service["last_job"]["state"] == "succeeded"
