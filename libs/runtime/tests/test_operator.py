"""The operator's tools: retry a dead-lettered job by command, replay a DLQ."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from rtkit import Effect, audit_message, create_effects, effects, make_settings

from hospeda.contracts import Envelope, encode
from hospeda.contracts.audit import AuditRecord
from hospeda.contracts.topics import AUDIT_RECORDS, PROVISIONING_COMMANDS, job_topic
from hospeda.devstack.testing import eventually
from hospeda.runtime import ops
from hospeda.runtime.jobs import JobContext, JobEngine, RetryPolicy
from hospeda.runtime.jobs_api import expose_jobs
from hospeda.runtime.messaging import MessageContext, MessageRouter
from hospeda.runtime.rpc import QueryClient
from hospeda.runtime.service import ServiceRuntime


async def test_an_operator_retries_a_failed_job_with_a_command(
    database_url: str, kafka_bootstrap: str
) -> None:
    router = MessageRouter("provisioning")
    runtime = ServiceRuntime(make_settings(database_url, kafka_bootstrap), router=router)
    engine = JobEngine(runtime.db, service="provisioning", job_topic=job_topic("provisioning"))
    whm_up = False

    @engine.kind(
        "create-account",
        queue="provision",
        policy=RetryPolicy(max_attempts=2, base_delay=timedelta(milliseconds=50)),
    )
    async def create(ctx: JobContext) -> None:
        if not whm_up:
            raise ConnectionError("WHM unreachable")

    expose_jobs(router, engine, commands=PROVISIONING_COMMANDS)
    runtime.jobs(engine, poll_interval=0.02)
    await runtime.start()
    try:
        async with runtime.db.transaction() as session:
            job_id = await engine.enqueue(session, "create-account", {})

        async def state() -> str:
            async with runtime.db.transaction() as session:
                return (await engine.get(session, job_id)).state

        await eventually(lambda: _is(state, "failed"), message="the job to fail")
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        client = QueryClient(
            bootstrap_servers=kafka_bootstrap, producer=producer, instance_id="ops-test"
        )
        await client.start()
        try:
            failed = await client.ask(
                "provisioning", "jobs.list", {"state": "failed"}, actor=ops._operator()
            )
            assert [job["id"] for job in failed] == [str(job_id)]
            assert failed[0]["last_error"] == "ConnectionError: WHM unreachable"
        finally:
            await client.stop()
            await producer.stop()
        whm_up = True
        await ops.job_command(kafka_bootstrap, "provisioning", job_id, cancel=False, reason=None)
        await eventually(
            lambda: _is(state, "succeeded"), message="success after the operator's retry"
        )
    finally:
        await runtime.stop()


async def _is(state: Any, wanted: str) -> bool:
    return await state() == wanted


async def test_dead_letters_can_be_replayed_once_the_cause_is_fixed(
    database_url: str, kafka_bootstrap: str, capsys: Any
) -> None:
    router = MessageRouter("rtsvc")
    fixed = False

    @router.on(AUDIT_RECORDS, AuditRecord)
    async def record(message: Envelope[Any], ctx: MessageContext) -> None:
        if not fixed:
            raise RuntimeError("a bug, fixed in the next release")
        ctx.session.add(Effect(message_id=message.id, action=message.payload.action))

    runtime = ServiceRuntime(make_settings(database_url, kafka_bootstrap), router=router)
    await runtime.start()
    await create_effects(runtime.db)
    try:
        parked = audit_message("parked")
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        await producer.send_and_wait(AUDIT_RECORDS.name, encode(parked), key=b"k")
        await producer.stop()
        await eventually(lambda: runtime.consumer.dead_lettered == 1, message="the dead letter")
        fixed = True
        await ops.dead_letters(kafka_bootstrap, AUDIT_RECORDS.name, replay=True)
        assert "a bug, fixed in the next release" in capsys.readouterr().out

        async def applied() -> bool:
            return [e.message_id for e in await effects(runtime.db)] == [parked.id]

        await eventually(applied, message="the replayed message to be applied")
        await ops.dead_letters(kafka_bootstrap, AUDIT_RECORDS.name, replay=True)  # nothing twice
        assert "0 message(s) replayed" in capsys.readouterr().out
    finally:
        await runtime.stop()
