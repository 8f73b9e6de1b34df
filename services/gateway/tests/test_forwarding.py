"""Forwarding to the owning services: queries by request/reply (the tenant in
the envelope, a clear 503 when nobody answers), commands published with 202
and an operation id, Idempotency-Key, audit records."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from gateway_kit import Harness, expect, find_message, read_topic

from hospeda.contracts import ActorKind
from hospeda.contracts.audit import AuditRecord
from hospeda.contracts.billing import PayInvoice, PlaceOrder
from hospeda.contracts.dns import CheckDelegation
from hospeda.contracts.topics import AUDIT_RECORDS, BILLING_COMMANDS, DNS_COMMANDS
from hospeda.gateway.permissions import StaffRole

ORDER = {"plan_code": "hospedagem-pro", "domain": "paoquente.com.br", "cycle": "monthly"}


async def test_queries_carry_the_company_in_the_envelope_and_page_by_cursor(
    harness: Harness,
) -> None:
    owner = await harness.sign_up()
    for n in range(5):
        harness.peers.add("invoices", owner.company_id, invoice_id=f"inv-{n}", status="open")
    first = expect(await owner.browser.get("/api/v1/invoices", params={"limit": 2}), 200)
    assert [i["invoice_id"] for i in first["items"]] == ["inv-0", "inv-1"]
    seen = [i["invoice_id"] for i in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = expect(
            await owner.browser.get("/api/v1/invoices", params={"limit": 2, "cursor": cursor}), 200
        )
        seen += [i["invoice_id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [f"inv-{n}" for n in range(5)]

    query = harness.peers.asked[-1]
    assert query.payload.name == "invoices.list"
    assert query.company_id == owner.company_id
    assert query.actor.kind == ActorKind.USER and query.actor.id == str(owner.user_id)
    assert query.ip == "127.0.0.1"
    assert set(query.payload.params) <= {"limit", "cursor", "status"}
    assert (await owner.browser.get("/api/v1/invoices", params={"limit": 1000})).status_code == 422


async def test_a_service_that_does_not_answer_is_a_clear_503(harness: Harness) -> None:
    owner = await harness.sign_up()
    harness.peers.silent.add("billing")
    answer = await owner.browser.get("/api/v1/invoices")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["Retry-After"] == "5"
    assert answer.json()["code"] == "service_unavailable"
    assert "billing" in answer.json()["detail"]
    # a command that needs the service's confirmation first is not sent either
    paid = await owner.browser.post(f"/api/v1/invoices/{uuid4()}/pay", json={"method": "pix"})
    assert paid.status_code == 503
    # the others still answer
    expect(await owner.browser.get("/api/v1/services"), 200)


async def test_a_services_refusal_is_shown_in_the_callers_language(harness: Harness) -> None:
    owner = await harness.sign_up()
    harness.peers.errors["invoices.list"] = ("invalid", "status desconhecido / unknown status")
    pt = await owner.browser.get("/api/v1/invoices", params={"status": "talvez"})
    assert pt.status_code == 422 and pt.json()["detail"] == "status desconhecido"
    en = await owner.browser.get(
        "/api/v1/invoices", params={"status": "talvez"}, headers={"Accept-Language": "en"}
    )
    assert en.json()["detail"] == "unknown status"
    harness.peers.errors["invoices.list"] = ("internal", "internal error")
    assert (await owner.browser.get("/api/v1/invoices")).status_code == 502


async def test_a_command_is_published_and_answered_202_with_its_operation_id(
    harness: Harness,
) -> None:
    owner = await harness.sign_up()
    answer = await owner.browser.post("/api/v1/orders", json=ORDER)
    body = expect(answer, 202)
    assert answer.headers["Location"] == f"/api/v1/orders/{body['resource_id']}"
    command = await find_message(
        harness.bootstrap,
        BILLING_COMMANDS.name,
        lambda m: (
            isinstance(m.payload, PlaceOrder) and str(m.payload.order_id) == body["resource_id"]
        ),
    )
    assert str(command.correlation_id) == body["operation_id"]
    assert command.company_id == owner.company_id
    assert command.actor.kind == ActorKind.USER and command.actor.id == str(owner.user_id)
    assert command.ip == "127.0.0.1"
    assert command.payload.domain == "paoquente.com.br"

    record = await find_message(
        harness.bootstrap,
        AUDIT_RECORDS.name,
        lambda m: (
            isinstance(m.payload, AuditRecord) and str(m.correlation_id) == body["operation_id"]
        ),
    )
    assert (
        record.payload.action == "order.place" and record.payload.entity_id == body["resource_id"]
    )
    assert (
        record.payload.after is not None and record.payload.after["plan_code"] == "hospedagem-pro"
    )
    assert record.company_id == owner.company_id and record.ip == "127.0.0.1"


async def test_idempotency_key_makes_a_post_safe_to_repeat(harness: Harness) -> None:
    owner = await harness.sign_up()
    key = {"Idempotency-Key": f"pedido-{uuid4()}"}
    first = await owner.browser.post("/api/v1/orders", json=ORDER, headers=key)
    again = await owner.browser.post("/api/v1/orders", json=ORDER, headers=key)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]

    other_body = await owner.browser.post(
        "/api/v1/orders", json={**ORDER, "domain": "outro.com.br"}, headers=key
    )
    assert other_body.status_code == 422 and other_body.json()["code"] == "idempotency_key_reused"
    too_long = await owner.browser.post(
        "/api/v1/orders", json=ORDER, headers={"Idempotency-Key": "x" * 300}
    )
    assert too_long.status_code == 400

    # another caller's identical key is theirs alone
    someone = await harness.sign_up(company="Outra")
    theirs = expect(await someone.browser.post("/api/v1/orders", json=ORDER, headers=key), 202)
    assert theirs["resource_id"] != first.json()["resource_id"]

    marker = expect(await owner.browser.post("/api/v1/orders", json=ORDER), 202)
    commands = await read_topic(
        harness.bootstrap,
        BILLING_COMMANDS.name,
        until=lambda seen: any(str(m.correlation_id) == marker["operation_id"] for m in seen),
    )
    ids = [str(m.payload.order_id) for m in commands if isinstance(m.payload, PlaceOrder)]
    assert ids.count(first.json()["resource_id"]) == 1  # sent once, not twice


async def test_a_failed_post_is_not_replayed(harness: Harness) -> None:
    owner = await harness.sign_up()
    key = {"Idempotency-Key": "pagar-1"}
    invoice = str(uuid4())
    missing = await owner.browser.post(
        f"/api/v1/invoices/{invoice}/pay", json={"method": "pix"}, headers=key
    )
    assert missing.status_code == 404
    harness.peers.add("invoices", owner.company_id, invoice_id=invoice, status="open")
    paid = await owner.browser.post(
        f"/api/v1/invoices/{invoice}/pay", json={"method": "pix"}, headers=key
    )
    assert paid.status_code == 202
    command = await find_message(
        harness.bootstrap,
        BILLING_COMMANDS.name,
        lambda m: isinstance(m.payload, PayInvoice) and str(m.payload.invoice_id) == invoice,
    )
    assert str(command.correlation_id) == paid.json()["operation_id"]


async def test_staff_act_on_a_company_explicitly_and_it_is_audited(harness: Harness) -> None:
    owner = await harness.sign_up()
    staff = await harness.staff(StaffRole.BILLING)
    invoice = harness.peers.add(
        "invoices", owner.company_id, invoice_id=str(uuid4()), status="paid"
    )
    # no company yet: company routes are refused until the staff member says which one, and why
    refused = await staff.browser.post(
        f"/api/v1/invoices/{invoice['invoice_id']}/refund", json={"reason": "dobro"}
    )
    assert refused.status_code in (403, 404)
    no_reason = await staff.browser.post(
        "/api/v1/staff/acting", json={"company_id": str(owner.company_id)}
    )
    assert no_reason.status_code == 422
    await harness.act_on(staff, owner.company_id)  # type: ignore[arg-type]
    me = expect(await staff.browser.get("/api/v1/me"), 200)
    assert me["acting"] is True and me["company_id"] == str(owner.company_id)
    assert me["role"] == "staff:billing"

    refund = expect(
        await staff.browser.post(
            f"/api/v1/invoices/{invoice['invoice_id']}/refund",
            json={"amount": {"amount": 1990, "currency": "BRL"}, "reason": "Cobrança em dobro"},
        ),
        202,
    )
    command = await find_message(
        harness.bootstrap,
        BILLING_COMMANDS.name,
        lambda m: str(m.correlation_id) == refund["operation_id"],
    )
    assert command.actor.kind == ActorKind.STAFF and command.actor.id == str(staff.user_id)
    assert command.company_id == owner.company_id
    assert command.payload.amount.amount == 1990

    records = await read_topic(
        harness.bootstrap,
        AUDIT_RECORDS.name,
        until=lambda seen: any(str(m.correlation_id) == refund["operation_id"] for m in seen),
    )
    acting = next(m for m in records if m.payload.action == "staff.acting_started")
    assert acting.company_id == owner.company_id  # in the customer's own trail
    assert acting.actor.kind == ActorKind.STAFF and acting.payload.after == {
        "reason": "Chamado de suporte #1"
    }
    refunded = next(m for m in records if str(m.correlation_id) == refund["operation_id"])
    assert refunded.payload.action == "invoice.refund"
    assert refunded.payload.before == {"status": "paid"}

    expect(await staff.browser.delete("/api/v1/staff/acting"), 200)
    assert expect(await staff.browser.get("/api/v1/me"), 200)["acting"] is False


async def test_staff_read_jobs_across_companies(harness: Harness) -> None:
    one = await harness.sign_up(company="Uma")
    two = await harness.sign_up(company="Duas")
    for person in (one, two):
        harness.peers.add("jobs", person.company_id, job_id=str(uuid4()), state="failed")
    operator = await harness.staff(StaffRole.OPERATOR)
    jobs: dict[str, Any] = expect(
        await operator.browser.get("/api/v1/staff/jobs", params={"state": "failed"}), 200
    )
    assert {j["company_id"] for j in jobs["items"]} == {str(one.company_id), str(two.company_id)}
    query = harness.peers.asked[-1]
    assert query.company_id is None and query.actor.kind == ActorKind.STAFF
    assert UUID(query.actor.id) == operator.user_id


async def test_check_now_sends_dns_one_check_per_zone_every_30_seconds(harness: Harness) -> None:
    owner = await harness.sign_up()
    harness.peers.add("zones", owner.company_id, domain="paoquente.com.br")
    body = expect(await owner.browser.post("/api/v1/zones/paoquente.com.br/check"), 202)
    command = await find_message(
        harness.bootstrap,
        DNS_COMMANDS.name,
        lambda m: (
            isinstance(m.payload, CheckDelegation) and str(m.correlation_id) == body["operation_id"]
        ),
    )
    assert command.payload.domain == "paoquente.com.br"
    assert command.company_id == owner.company_id
    again = await owner.browser.post("/api/v1/zones/paoquente.com.br/check")
    assert again.status_code == 429
    assert 0 < int(again.headers["Retry-After"]) <= 30
    # another company's zone, or none, is a 404 and costs nobody's allowance
    missing = await owner.browser.post("/api/v1/zones/naoexiste.com.br/check")
    assert missing.status_code == 404
