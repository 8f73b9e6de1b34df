"""The live stream: each person sees the events of their active company that
their role may see — nothing of other companies, nothing beyond their role."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from aiokafka import AIOKafkaProducer
from gateway_kit import EventStream, Harness, expect

from hospeda.contracts import Actor, Envelope, Money, Payload, Topic
from hospeda.contracts.billing import InvoicePaid
from hospeda.contracts.identity import CompanyRole
from hospeda.contracts.jobs import JobQueued
from hospeda.contracts.ops import CommandRejected
from hospeda.contracts.topics import BILLING_INVOICE, OPS_COMMAND, PROVISIONING_JOB
from hospeda.devstack.testing import eventually
from hospeda.runtime.broker import publish


async def send(
    producer: AIOKafkaProducer,
    payload: Payload,
    topic: Topic,
    company: UUID | None,
    correlation_id: UUID | None = None,
) -> str:
    envelope = Envelope.of(
        payload,
        actor=Actor.system("test"),
        company_id=company,
        ip="203.0.113.9",
        correlation_id=correlation_id,
    )
    await publish(producer, envelope, topic=topic, key=str(uuid4()))
    return str(envelope.id)


def paid(number: str) -> InvoicePaid:
    return InvoicePaid(
        invoice_id=uuid4(),
        number=number,
        amount_paid=Money(amount=4990),
        paid_at=datetime.now(UTC),
    )


def queued() -> JobQueued:
    return JobQueued(
        job_id=uuid4(),
        queue="provision",
        kind="create-account",
        max_attempts=5,
        run_at=datetime.now(UTC),
    )


def business(stream: EventStream) -> list[str]:
    """Event ids, without the stream's own company's membership events (the
    sign-ups above may still be arriving through the outbox)."""
    return [e["id"] for e in stream.events if not e["event"].startswith("identity.")]


def has_id(message_id: str) -> Any:
    return lambda event: event.get("id") == message_id


async def test_each_person_sees_only_what_they_may(harness: Harness) -> None:
    alice = await harness.sign_up(company="Padaria")
    tech = await harness.invite(alice, CompanyRole.TECHNICAL)  # no invoices:read
    bob = await harness.sign_up(company="Oficina")
    await harness.server.events_ready()
    streams = {
        name: EventStream(p.browser) for name, p in (("alice", alice), ("tech", tech), ("bob", bob))
    }
    producer = AIOKafkaProducer(bootstrap_servers=harness.bootstrap)
    await producer.start()
    try:
        for stream in streams.values():
            await asyncio.wait_for(stream.opened.wait(), 20)
            assert stream.status == 200

        invoice = await send(producer, paid("A-1"), BILLING_INVOICE, alice.company_id)
        got = await streams["alice"].wait_for(has_id(invoice), "Alice's invoice")
        assert got["event"] == "billing.invoice.paid"
        assert got["data"]["payload"]["number"] == "A-1"
        assert got["data"]["company_id"] == str(alice.company_id)
        assert "ip" not in got["data"]

        # the hub handled the invoice before this job event: a technical person
        # who could see invoices would have it first in their stream
        job = await send(producer, queued(), PROVISIONING_JOB, alice.company_id)
        await streams["tech"].wait_for(has_id(job), "the job event")
        assert [e["id"] for e in streams["tech"].events] == [job]
        await streams["alice"].wait_for(has_id(job), "the job event")

        theirs = await send(producer, paid("B-1"), BILLING_INVOICE, bob.company_id)
        await streams["bob"].wait_for(has_id(theirs), "Bob's invoice")
        assert business(streams["bob"]) == [theirs]  # nothing of Alice's
        platform = await send(producer, paid("P-1"), BILLING_INVOICE, None)
        marker = await send(producer, paid("A-2"), BILLING_INVOICE, alice.company_id)
        await streams["alice"].wait_for(has_id(marker), "Alice's second invoice")
        assert business(streams["alice"]) == [invoice, job, marker]
        assert platform not in str(streams["alice"].events)
    finally:
        for stream in streams.values():
            await stream.close()
        await producer.stop()


async def test_the_stream_ends_when_the_session_does(harness: Harness) -> None:
    owner = await harness.sign_up()
    stream = EventStream(owner.browser)
    try:
        await asyncio.wait_for(stream.opened.wait(), 20)
        assert stream.status == 200
        await owner.browser.post("/api/v1/auth/logout")
        await asyncio.wait_for(stream.ended.wait(), 20)  # the re-check found no session
    finally:
        await stream.close()


async def test_the_stream_needs_a_signed_in_caller(harness: Harness) -> None:
    stream = EventStream(harness.browser())
    try:
        await asyncio.wait_for(stream.ended.wait(), 20)
        assert stream.status == 401
    finally:
        await stream.close()


async def test_a_command_is_followed_by_its_operation_id(harness: Harness) -> None:
    """Partners that poll: GET /operations/{id} shows what the command caused so
    far — to its own company only, and only the kinds the caller may see."""
    owner = await harness.sign_up(company="Padaria")
    tech = await harness.invite(owner, CompanyRole.TECHNICAL)  # no invoices:read
    stranger = await harness.sign_up(company="Oficina")
    await harness.server.events_ready()
    placed = expect(
        await owner.browser.post(
            "/api/v1/orders",
            json={"plan_code": "hospedagem-pro", "domain": "paoquente.com.br", "cycle": "monthly"},
        ),
        202,
    )
    url = f"/api/v1/operations/{placed['operation_id']}"
    first = expect(await owner.browser.get(url), 200)
    assert (first["status"], first["command"], first["events"]) == (
        "accepted",
        "billing.place_order",
        [],
    )
    assert first["resource_id"] == placed["resource_id"]

    # what the services answer, under the command's correlation id
    operation = UUID(placed["operation_id"])
    producer = AIOKafkaProducer(bootstrap_servers=harness.bootstrap)
    await producer.start()
    try:
        # the same correlation id on another company's event never joins the operation
        # (sent first: one partition, so it is read before the invoice below)
        foreign = await send(producer, paid("B-1"), BILLING_INVOICE, stranger.company_id, operation)
        invoice = await send(producer, paid("A-7"), BILLING_INVOICE, owner.company_id, operation)
        refused = await send(
            producer,
            CommandRejected(
                command_id=uuid4(),
                command_type="billing.place_order",
                reason="Plano inexistente / unknown plan",
            ),
            OPS_COMMAND,
            owner.company_id,
            operation,
        )
        unrelated = await send(producer, paid("A-8"), BILLING_INVOICE, owner.company_id)
    finally:
        await producer.stop()

    async def followed() -> bool:
        answer = expect(await owner.browser.get(url), 200)
        return len(answer["events"]) == 2

    await eventually(followed, timeout=20, message="the operation's events")
    seen = expect(await owner.browser.get(url), 200)
    assert seen["status"] == "rejected"
    assert seen["rejection"] == "Plano inexistente / unknown plan"
    assert {e["id"] for e in seen["events"]} == {invoice, refused}
    assert unrelated not in str(seen) and foreign not in str(seen)
    # the technical member may not see invoices: only the refusal
    assert [e["id"] for e in expect(await tech.browser.get(url), 200)["events"]] == [refused]
    # another company: exactly like an operation that does not exist
    theirs = await stranger.browser.get(url)
    missing = await stranger.browser.get(f"/api/v1/operations/{uuid4()}")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["code"] == missing.json()["code"]


async def replay(person: Any, last_event_id: str, until_id: str) -> list[dict[str, Any]]:
    """Reconnect like a browser (``Last-Event-ID``) and read until ``until_id``."""
    browser = person.browser
    headers = {
        "Cookie": "; ".join(f"{k}={v}" for k, v in browser.cookies.items()),
        "Last-Event-ID": last_event_id,
    }
    got: list[dict[str, Any]] = []
    async with browser.client.stream("GET", "/api/v1/events", headers=headers) as response:
        assert response.status_code == 200
        event: dict[str, Any] = {}
        async for line in response.aiter_lines():
            if line.startswith(("event:", "id:")):
                name, _, value = line.partition(":")
                event[name] = value.strip()
            elif not line and event:
                got.append(event)
                if event.get("id") == until_id:
                    return got
                event = {}
    return got


async def test_a_reconnecting_stream_replays_what_it_missed(harness: Harness) -> None:
    """A phone that slept: on reconnect (``Last-Event-ID``) it gets every event
    it missed, in order, only those its role may see, then the live feed."""
    alice = await harness.sign_up(company="Padaria")
    tech = await harness.invite(alice, CompanyRole.TECHNICAL)  # no invoices:read
    await harness.server.events_ready()
    producer = AIOKafkaProducer(bootstrap_servers=harness.bootstrap)
    await producer.start()
    stream = EventStream(alice.browser)
    try:
        await asyncio.wait_for(stream.opened.wait(), 20)
        seen = await send(producer, paid("A-1"), BILLING_INVOICE, alice.company_id)
        await stream.wait_for(has_id(seen), "the first invoice")
        await stream.close()  # the phone sleeps

        missed_invoice = await send(producer, paid("A-2"), BILLING_INVOICE, alice.company_id)
        missed_job = await send(producer, queued(), PROVISIONING_JOB, alice.company_id)
        key = f"hospeda:events:company:{alice.company_id}"

        async def kept() -> bool:
            raw = await harness.server.call(lambda gateway: gateway.redis.lrange(key, 0, -1))
            return missed_job in b"".join(raw).decode()

        await eventually(kept, timeout=20)

        again = await replay(alice, seen, until_id=missed_job)
        ids = [e["id"] for e in again if not e["event"].startswith("identity.")]
        assert ids == [missed_invoice, missed_job]  # in order, nothing seen before
        assert again[0]["event"] == "billing.invoice.paid"

        tech_again = await replay(tech, seen, until_id=missed_job)
        assert [e["id"] for e in tech_again if not e["event"].startswith("identity.")] == [
            missed_job
        ]  # the invoice is not the technical role's to see, replayed or live
    finally:
        await stream.close()
        await producer.stop()
