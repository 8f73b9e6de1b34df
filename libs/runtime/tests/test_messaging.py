"""Outbox → broker → inbox, redelivery and dead letters, on the real broker and database."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from aiokafka import AIOKafkaProducer
from rtkit import audit_message, audit_router, create_effects, effects, make_settings, read_topic

from hospeda.contracts import decode, encode
from hospeda.contracts.topics import AUDIT_RECORDS
from hospeda.devstack.testing import eventually
from hospeda.runtime import outbox
from hospeda.runtime.service import ServiceRuntime


@pytest.fixture
async def runtime(database_url: str, kafka_bootstrap: str):
    service = ServiceRuntime(make_settings(database_url, kafka_bootstrap), router=audit_router())
    await service.start()
    await create_effects(service.db)
    yield service
    await service.stop()


async def test_outbox_messages_reach_the_consumer_once_each(runtime: ServiceRuntime) -> None:
    sent = [audit_message(f"a.{i}") for i in range(300)]
    async with runtime.db.transaction() as session:
        for message in sent:
            outbox.add(session, message, topic=AUDIT_RECORDS, key="company-1")

    async def all_applied() -> bool:
        return len(await effects(runtime.db)) >= len(sent)

    await eventually(all_applied, message="300 effects")
    applied = await effects(runtime.db)
    assert [e.action for e in applied] == [m.payload.action for m in sent]  # one key: order kept
    assert runtime.relay.published == len(sent)


async def test_a_redelivered_message_is_a_no_op(
    runtime: ServiceRuntime, producer: AIOKafkaProducer
) -> None:
    message = audit_message("once")
    for _ in range(3):
        await producer.send_and_wait(AUDIT_RECORDS.name, encode(message), key=b"k")
    follower = audit_message("after")
    await producer.send_and_wait(AUDIT_RECORDS.name, encode(follower), key=b"k")

    async def follower_applied() -> bool:
        return any(e.action == "after" for e in await effects(runtime.db))

    await eventually(follower_applied, message="the message after the duplicates")
    counts = Counter(e.message_id for e in await effects(runtime.db))
    assert counts[message.id] == 1
    assert runtime.consumer.duplicates == 2


async def test_unreadable_messages_go_to_the_dlq_and_the_next_one_is_processed(
    runtime: ServiceRuntime, producer: AIOKafkaProducer, kafka_bootstrap: str
) -> None:
    good = audit_message("good")
    bad_payload = audit_message("x").model_dump(mode="json")
    bad_payload["payload"]["action"] = ""  # violates min_length
    unknown = {**audit_message("y").model_dump(mode="json"), "type": "no.such.type"}
    import json

    poison = [
        b"\xff not json",
        json.dumps(unknown).encode(),
        json.dumps(bad_payload).encode(),
        None,
    ]
    for value in poison:
        await producer.send_and_wait(AUDIT_RECORDS.name, value, key=b"k")
    explode = audit_message("explode")
    await producer.send_and_wait(AUDIT_RECORDS.name, encode(explode), key=b"k")
    await producer.send_and_wait(AUDIT_RECORDS.name, encode(good), key=b"k")

    async def good_applied() -> bool:
        return any(e.message_id == good.id for e in await effects(runtime.db))

    await eventually(good_applied, message="the good message after the poison")
    dead = await read_topic(kafka_bootstrap, AUDIT_RECORDS.dlq, expect=5)
    assert len(dead) == 5
    reasons = [dict(r.headers)["x-dlq-reason"].decode() for r in dead]
    assert reasons[0].startswith("not JSON")
    assert "unknown message type 'no.such.type'" in reasons[1]
    assert "payload.action" in reasons[2]
    assert "tombstone" in reasons[3]
    assert "PermanentError: this record can never be applied" in reasons[4]
    origin = dict(dead[4].headers)
    assert origin["x-dlq-original-topic"].decode() == AUDIT_RECORDS.name
    assert int(origin["x-dlq-original-offset"]) >= 0
    assert decode(dead[4].value).id == explode.id  # parked as it was, for replay
    assert not any(e.action == "explode" for e in await effects(runtime.db))


async def test_a_failing_message_in_a_batch_does_not_hold_back_the_others(
    runtime: ServiceRuntime, producer: AIOKafkaProducer, kafka_bootstrap: str
) -> None:
    messages = [audit_message(f"m.{i}") for i in range(20)]
    messages.insert(10, audit_message("bug"))
    await asyncio.gather(
        *[await producer.send(AUDIT_RECORDS.name, encode(m), key=b"k") for m in messages]
    )

    async def twenty() -> bool:
        return len(await effects(runtime.db)) == 20

    await eventually(twenty, message="the 20 good messages")
    dead = await read_topic(kafka_bootstrap, AUDIT_RECORDS.dlq, expect=1)
    assert "RuntimeError: a bug in the handler" in dict(dead[0].headers)["x-dlq-reason"].decode()


async def test_a_persons_refused_command_is_explained_to_them(
    database_url: str, kafka_bootstrap: str, producer: AIOKafkaProducer
) -> None:
    from uuid import uuid4

    from hospeda.contracts import Actor, Envelope
    from hospeda.contracts.billing import BillingCycle, PlaceOrder
    from hospeda.contracts.topics import BILLING_COMMANDS, OPS_COMMAND
    from hospeda.runtime.errors import PermanentError
    from hospeda.runtime.messaging import MessageRouter

    router = MessageRouter("rtsvc")

    @router.on(BILLING_COMMANDS, PlaceOrder)
    async def refuse(message: Envelope, ctx) -> None:  # type: ignore[no-untyped-def]
        raise PermanentError("plano desconhecido / unknown plan 'gold'")

    runtime = ServiceRuntime(make_settings(database_url, kafka_bootstrap), router=router)
    await runtime.start()
    try:
        company = uuid4()
        order = PlaceOrder(
            order_id=uuid4(), plan_code="gold", domain="loja.com.br", cycle=BillingCycle.MONTHLY
        )
        by_person = Envelope.of(order, actor=Actor(kind="user", id="u-1"), company_id=company)
        by_system = Envelope.of(order, actor=Actor.system("billing"), company_id=company)
        for message in (by_system, by_person):
            await producer.send_and_wait(
                BILLING_COMMANDS.name, encode(message), key=str(company).encode()
            )
        dead = await read_topic(
            runtime.settings.kafka_bootstrap_servers, BILLING_COMMANDS.dlq, expect=2
        )
        assert len(dead) == 2
        told = await read_topic(
            runtime.settings.kafka_bootstrap_servers, OPS_COMMAND.name, expect=1
        )
    finally:
        await runtime.stop()
    assert len(told) == 1  # only the person is told; a system's command is an operator matter
    rejection = decode(told[0].value)
    assert rejection.payload.command_id == by_person.id
    assert rejection.payload.reason == "plano desconhecido / unknown plan 'gold'"
    assert rejection.correlation_id == by_person.correlation_id
    assert rejection.company_id == company
