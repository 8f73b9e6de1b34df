"""The partner example (examples/partner_consumer.py, confluent-kafka) joins a
group on the real broker, checks each event against its published schema,
ignores what it does not know, and commits what it handled: run again with the
same group, it reads nothing twice."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hospeda.contracts import Actor, Envelope, Money, encode
from hospeda.contracts.billing import InvoicePaid

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "partner_consumer.py"
SCHEMAS = ROOT / "libs" / "contracts" / "schemas" / "messages"


def consume(bootstrap: str, topic: str, group: str, count: int) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--bootstrap", bootstrap, "--topic", topic,
         "--group", group, "--schemas", str(SCHEMAS), "--from-beginning",
         "--max-messages", str(count), "--timeout", "60"],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


async def test_the_example_consumer_checks_each_event_against_its_schema(
    kafka_bootstrap: str,
) -> None:
    topic = f"billing.invoice.v1-{uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    invoice_id = uuid4()
    paid = Envelope.of(
        InvoicePaid(
            invoice_id=invoice_id,
            number="2026-000042",
            amount_paid=Money(amount=1990),
            paid_at=datetime(2026, 12, 7, 12, tzinfo=UTC),
        ),
        actor=Actor.system("billing"),
        company_id=uuid4(),
    )
    broken = json.loads(encode(paid))
    broken["payload"]["amount_paid"] = "19,90"  # not the published shape
    newer = {**json.loads(encode(paid)), "type": "billing.invoice.novidade", "id": str(uuid4())}
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for value in (encode(paid), json.dumps(broken).encode(), json.dumps(newer).encode()):
            await producer.send_and_wait(topic, value, key=str(invoice_id).encode())
    finally:
        await producer.stop()

    first, second, third = consume(kafka_bootstrap, topic, "partner-teste", 3)
    assert first["valid"] is True and first["type"] == "billing.invoice.paid"
    assert first["id"] == str(paid.id) and first["key"] == str(invoice_id)
    assert first["payload"]["number"] == "2026-000042"  # type: ignore[index]
    assert second["valid"] is False and "amount_paid" in str(second["error"])
    assert third["valid"] is None and "ignored" in str(third["note"])

    # committed after handling: the same group starts after them
    async def one_more() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, encode(paid), key=str(invoice_id).encode())
        finally:
            await producer.stop()

    await one_more()
    (again,) = consume(kafka_bootstrap, topic, "partner-teste", 1)
    assert again["offset"] == 3 and again["valid"] is True
