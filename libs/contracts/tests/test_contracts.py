"""The envelope, the registry and the published-schema guard."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from pydantic import ValidationError

from hospeda.contracts import TOPICS, Actor, Envelope, Money, UnreadableMessage, decode, encode
from hospeda.contracts.billing import InvoicePaid
from hospeda.contracts.registry import MESSAGE_TYPES
from hospeda.contracts.schema import SCHEMA_DIR, breaking_changes, check, message_schema

SYSTEM = Actor.system("billing")


def paid(**overrides: object) -> InvoicePaid:
    fields = {
        "invoice_id": uuid4(),
        "number": "2026-000001",
        "amount_paid": Money(amount=4990),
        "paid_at": datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
    }
    return InvoicePaid(**{**fields, **overrides})


def test_a_message_survives_the_wire() -> None:
    company = uuid4()
    message = Envelope.of(paid(), actor=SYSTEM, company_id=company, ip="2001:db8::1")
    back = decode(encode(message))
    assert back == message
    assert isinstance(back.payload, InvoicePaid)
    assert back.type == "billing.invoice.paid" and back.version == 1
    assert json.loads(encode(message))["occurred_at"].endswith("Z")


def test_a_caused_message_continues_the_flow() -> None:
    first = Envelope.of(paid(), actor=SYSTEM, company_id=uuid4())
    second = Envelope.of(paid(), actor=SYSTEM, cause=first)
    assert second.correlation_id == first.correlation_id
    assert second.causation_id == first.id
    assert second.company_id == first.company_id
    assert second.id != first.id and second.id.version == 7


def test_times_must_carry_a_zone_and_are_kept_in_utc() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        paid(paid_at=datetime(2026, 11, 29, 12, 0))
    brasilia = timezone(timedelta(hours=-3))
    assert paid(paid_at=datetime(2026, 11, 29, 9, 0, tzinfo=brasilia)).paid_at == datetime(
        2026, 11, 29, 12, 0, tzinfo=UTC
    )


def test_money_is_integer_cents() -> None:
    with pytest.raises(ValidationError):
        Money(amount=49.9)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Money(amount=100, currency="real")


def test_unknown_fields_are_ignored_by_readers() -> None:
    data = json.loads(encode(Envelope.of(paid(), actor=SYSTEM)))
    data["added_in_a_later_minor"] = True
    data["payload"]["also_new"] = 1
    assert isinstance(decode(json.dumps(data).encode()).payload, InvoicePaid)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x00\x01", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"type": "billing.nope"}', "unknown message type"),
        (None, "tombstone"),
    ],
)
def test_unreadable_messages_say_why(raw: bytes | None, reason: str) -> None:
    with pytest.raises(UnreadableMessage, match=reason):
        decode(raw)


def test_an_invalid_payload_names_the_field() -> None:
    data = json.loads(encode(Envelope.of(paid(), actor=SYSTEM)))
    data["payload"]["amount_paid"]["amount"] = "a lot"
    with pytest.raises(UnreadableMessage, match=r"payload\.amount_paid\.amount"):
        decode(json.dumps(data).encode())


def test_every_topic_is_documented_and_every_message_has_a_unique_type() -> None:
    names = [t.name for t in TOPICS]
    assert len(names) == len(set(names))
    for topic in TOPICS:
        assert topic.name.endswith(".v1") and topic.key and topic.description
        for message in topic.messages:
            assert MESSAGE_TYPES[message.TYPE] is message
            assert message.__doc__, f"{message.__name__} needs a docstring: partners read it"


def test_the_committed_schemas_are_current_and_compatible() -> None:
    assert check() == []
    assert (SCHEMA_DIR / "asyncapi.json").exists()


def test_schema_pins_the_discriminator() -> None:
    schema = message_schema(InvoicePaid)
    assert schema["properties"]["type"]["const"] == "billing.invoice.paid"
    assert "payload" in schema["required"]


class TestBreakingChanges:
    published = message_schema(InvoicePaid)

    def changed(self, edit) -> list[str]:  # type: ignore[no-untyped-def]
        new = copy.deepcopy(self.published)
        edit(new)
        return breaking_changes(self.published, new)

    def test_adding_an_optional_field_is_fine(self) -> None:
        def add(schema: dict) -> None:
            schema["$defs"]["InvoicePaid"]["properties"]["note"] = {"type": "string"}

        assert self.changed(add) == []

    def test_removing_a_field_breaks(self) -> None:
        def remove(schema: dict) -> None:
            del schema["$defs"]["InvoicePaid"]["properties"]["number"]

        assert ".payload.number: removed" in self.changed(remove)

    def test_retyping_a_field_breaks(self) -> None:
        def retype(schema: dict) -> None:
            schema["$defs"]["Money"]["properties"]["amount"] = {"type": "number"}

        assert any(
            "amount_paid.amount: type integer: is no longer accepted" in p
            for p in self.changed(retype)
        )

    def test_making_an_optional_field_required_breaks(self) -> None:
        def require(schema: dict) -> None:
            schema["$defs"]["InvoicePaid"]["required"].append("payment_id")

        assert ".payload.payment_id: now required" in self.changed(require)

    def test_dropping_an_enum_value_breaks(self) -> None:
        def narrow(schema: dict) -> None:
            schema["$defs"]["ActorKind"]["enum"].remove("api_token")

        assert any("enum values removed ['api_token']" in p for p in self.changed(narrow))
