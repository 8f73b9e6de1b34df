"""The operator's command line against the running platform, as an operator
runs it: the ``hospeda`` console script in its own process, talking to the
platform only through Kafka.

A job fails for good (the WHM simulators are told to fail), the operator
finds it, reads its log and retries it from the CLI, and it succeeds; a dead
letter is listed and re-driven; the consumer groups show their lag; every
change the operator made is in the audit trail."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from hospeda.contracts import Actor, Envelope, decode, encode, new_id
from hospeda.contracts.provisioning import CreateAccount
from hospeda.contracts.topics import AUDIT_RECORDS, PROVISIONING_COMMANDS
from hospeda.devstack.stack import Stack
from hospeda.provisioning.simulator.control import SimulatorControl
from hospeda.runtime.broker import publish
from hospeda.runtime.errors import QueryFailed
from hospeda.runtime.rpc import QueryClient

pytestmark = pytest.mark.e2e

HOSPEDA = str(Path(sys.executable).with_name("hospeda"))


@pytest.fixture
def platform_env() -> dict[str, str]:
    # fail for good after two quick attempts, not five over a minute
    return {"PROVISIONING_RETRY_ATTEMPTS": "2", "PROVISIONING_RETRY_BASE_DELAY_S": "0.1"}


async def cli(bootstrap: str, *args: str) -> str:
    """Run ``hospeda ARGS`` and return what it printed (it must succeed)."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "HOSPEDA_OPERATOR": "operadora-e2e",
        "COLUMNS": "250",  # tables unwrapped
    }
    done = await asyncio.to_thread(
        subprocess.run, [HOSPEDA, *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"hospeda {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def simulators(platform: Stack) -> list[SimulatorControl]:
    found = []
    for name, running in platform.running.items():
        if name.startswith("whm-sim"):
            command = list(running.spec.command)
            found.append(
                SimulatorControl(f"http://127.0.0.1:{command[command.index('--port') + 1]}")
            )
    assert found
    return found


async def until(check: Any, what: str, *, timeout: float = 60) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


@pytest.mark.timeout(900)  # a dozen CLI processes on a shared machine
async def test_an_operator_retries_a_failed_job_redrives_a_dead_letter_and_sees_lag(
    platform: Stack, kafka_bootstrap: str
) -> None:
    for sim in simulators(platform):
        await sim.fault("createacct", "error", times=2, status=500)
    company, service_id = new_id(), new_id()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    queries = QueryClient(
        bootstrap_servers=kafka_bootstrap, producer=producer, instance_id="e2e-ops"
    )
    await queries.start()
    try:
        create = CreateAccount(
            service_id=service_id,
            domain="operadora.com.br",
            plan_code="basico",
            whm_package="hospeda_basico",
            contact_email="dono@operadora.com.br",
        )
        await publish(
            producer,
            Envelope.of(create, actor=Actor.system("billing"), company_id=company),
            topic=PROVISIONING_COMMANDS,
            key=service_id,
        )

        async def last_job() -> dict[str, Any] | None:
            try:
                service = await queries.ask(
                    "provisioning",
                    "services.get",
                    {"service_id": str(service_id)},
                    actor=Actor(kind="staff", id="e2e"),
                    timeout=5,
                )
            except QueryFailed:
                return None
            return service.get("last_job")

        async def failed() -> dict[str, Any] | None:
            job = await last_job()
            return job if job and job["state"] == "failed" else None

        job = await until(failed, "the account's job to fail for good")

        listed = await cli(kafka_bootstrap, "jobs", "list", "provisioning", "--state", "failed")
        assert job["id"] in listed
        shown = await cli(kafka_bootstrap, "jobs", "show", "provisioning", job["id"])
        assert "failed" in shown and job["last_error"][:30] in shown  # state, and why

        retried = await cli(kafka_bootstrap, "jobs", "retry", "provisioning", job["id"], "--yes")
        assert f"retry sent for {job['id']}" in retried

        async def succeeded() -> bool:
            again = await last_job()
            return bool(again) and again["id"] == job["id"] and again["state"] == "succeeded"

        await until(succeeded, "the retried job to succeed")

        # a dead letter: a message no consumer can read
        poison = {
            **json.loads(encode(Envelope.of(create, actor=Actor.system("billing")))),
            "type": "provisioning.no_such_command",
        }
        message_id = poison["id"]
        await producer.send_and_wait(
            PROVISIONING_COMMANDS.name,
            json.dumps(poison).encode(),
            key=b"poison",
            headers=[("message-id", message_id.encode())],
        )

        async def parked() -> str | None:
            out = await cli(kafka_bootstrap, "dlq", "list", PROVISIONING_COMMANDS.name)
            return out if "unknown message type" in out else None

        listing = await until(parked, "the dead letter to be listed")
        ref = next(
            line.split()[1]
            for line in listing.splitlines()
            if "unknown message type" in line and ":" in line.split()[1]
        )
        shown_letter = await cli(kafka_bootstrap, "dlq", "show", PROVISIONING_COMMANDS.name, ref)
        assert message_id in shown_letter
        redriven = await cli(
            kafka_bootstrap, "dlq", "redrive", PROVISIONING_COMMANDS.name, ref, "--yes"
        )
        assert f"re-drove {ref} to {PROVISIONING_COMMANDS.name}" in redriven

        async def parked_twice() -> bool:  # back on its topic, read, and parked again
            out = await cli(kafka_bootstrap, "dlq", "list", PROVISIONING_COMMANDS.name)
            return out.count("unknown message type") >= 2

        await until(parked_twice, "the re-driven message to come back through the consumer")

        groups = [
            json.loads(line)
            for line in (await cli(kafka_bootstrap, "groups", "--json")).splitlines()
        ]
        by_name = {g["group"]: g for g in groups}
        assert "provisioning" in by_name, by_name.keys()
        assert by_name["provisioning"]["status"] in ("OK", "WARN", "STALL", "STOP")
        assert PROVISIONING_COMMANDS.name in by_name["provisioning"]["topics"]
        assert isinstance(by_name["provisioning"]["lag"], int)
        topics = await cli(kafka_bootstrap, "topics")
        assert PROVISIONING_COMMANDS.name in topics

        # what the operator changed is audited, as the operator
        audit = await read_audit_records(kafka_bootstrap)
        actions = {(r.payload.action, r.actor.id) for r in audit}
        assert ("ops.job.retry", "operadora-e2e") in actions
        assert ("ops.dlq.redrive", "operadora-e2e") in actions

        # and the trail itself checks, asked of the audit service through Kafka
        verified = await cli(kafka_bootstrap, "audit", "verify")
        assert "OK: every hash, chain link, signature and consistency proof checks" in verified
        entries = int(verified.split("entries: ")[1].split(" ")[0])
        assert entries > 0
    finally:
        await queries.stop()
        await producer.stop()


async def read_audit_records(bootstrap: str) -> list[Envelope[Any]]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        AUDIT_RECORDS.name, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[Envelope[Any]] = []
    try:
        while batch := await consumer.getmany(timeout_ms=2000):
            for records in batch.values():
                found += [decode(r.value) for r in records]
    finally:
        await consumer.stop()
    return found
