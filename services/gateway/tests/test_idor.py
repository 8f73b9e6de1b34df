"""Another company's ids (IDOR): nothing leaks, nothing changes, and the answer
is the same as for an id that does not exist."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
from gateway_kit import Harness, Person, expect, read_all, read_topic, unique_email

from hospeda.contracts.identity import CompanyRole
from hospeda.contracts.topics import BILLING_COMMANDS, DNS_COMMANDS, PROVISIONING_COMMANDS
from hospeda.gateway.permissions import StaffRole


def shape(response: httpx.Response) -> tuple[Any, ...]:
    body = response.json()
    return (response.status_code, body.get("code"), body.get("title"), body.get("detail"))


async def test_another_companys_ids_answer_like_missing_ones(harness: Harness) -> None:
    alice = await harness.sign_up(company="Padaria da Alice")
    bob = await harness.sign_up(company="Oficina do Bob")
    assert alice.company_id and bob.company_id
    a, peers = alice.company_id, harness.peers
    mine = {
        "invoice": peers.add("invoices", a, invoice_id=str(uuid4()), status="open", total=9990),
        "subscription": peers.add("subscriptions", a, subscription_id=str(uuid4())),
        "order": peers.add("orders", a, order_id=str(uuid4())),
        "service": peers.add("services", a, service_id=str(uuid4()), domain="alice.com.br"),
        "job": peers.add("jobs", a, job_id=str(uuid4()), state="failed"),
        "zone": peers.add("zones", a, domain="alice.com.br"),
    }
    peers.add("zones", bob.company_id, domain="bob.com.br")
    # Alice's own identity things: a member, an invitation, a token
    member = await harness.invite(alice, CompanyRole.VIEWER)
    invitation = expect(
        await alice.browser.post(
            "/api/v1/company/invitations", json={"email": unique_email(), "role": "billing"}
        ),
        201,
    )
    token = expect(
        await alice.browser.post(
            "/api/v1/company/tokens", json={"name": "ERP", "permissions": ["invoices:read"]}
        ),
        201,
    )
    alice_token = harness.browser(token=token["token"])
    bob_token = harness.browser(
        token=expect(
            await bob.browser.post(
                "/api/v1/company/tokens",
                json={
                    "name": "Tudo",
                    "permissions": [
                        "invoices:read",
                        "invoices:pay",
                        "subscriptions:read",
                        "subscriptions:manage",
                        "orders:read",
                        "orders:create",
                        "services:read",
                        "jobs:read",
                        "dns:read",
                        "dns:write",
                        "events:stream",
                    ],
                },
            ),
            201,
        )["token"]
    )
    staff = await harness.staff(StaffRole.SUPERADMIN)
    await harness.act_on(staff, bob.company_id)  # acting on Bob's company, not Alice's

    alice_order = expect(
        await alice.browser.post(
            "/api/v1/orders",
            json={
                "plan_code": "hospedagem-pro",
                "domain": "padariadaalice.net",
                "cycle": "monthly",
            },
        ),
        202,
    )
    record = {"record": {"type": "TXT", "name": "@", "content": "roubado"}}
    probes: list[tuple[str, str, str, Any]] = [
        # (method, path with Alice's id, the same path with an unknown id, body)
        ("GET", "/api/v1/invoices/{}", mine["invoice"]["invoice_id"], None),
        ("POST", "/api/v1/invoices/{}/pay", mine["invoice"]["invoice_id"], {"method": "pix"}),
        ("GET", "/api/v1/orders/{}", mine["order"]["order_id"], None),
        ("GET", "/api/v1/subscriptions/{}", mine["subscription"]["subscription_id"], None),
        (
            "POST",
            "/api/v1/subscriptions/{}/change",
            mine["subscription"]["subscription_id"],
            {"to_code": "x"},
        ),
        ("POST", "/api/v1/subscriptions/{}/cancel", mine["subscription"]["subscription_id"], {}),
        (
            "POST",
            "/api/v1/subscriptions/{}/addons",
            mine["subscription"]["subscription_id"],
            {"addon_code": "backup"},
        ),
        ("GET", "/api/v1/services/{}", mine["service"]["service_id"], None),
        ("GET", "/api/v1/jobs/{}", mine["job"]["job_id"], None),
        ("GET", "/api/v1/operations/{}", alice_order["operation_id"], None),
        ("GET", "/api/v1/zones/{}", "alice.com.br", None),
        ("POST", "/api/v1/zones/{}/records", "alice.com.br", record),
        ("POST", "/api/v1/zones/{}/check", "alice.com.br", None),
        ("PUT", "/api/v1/zones/{}/records/r1", "alice.com.br", record),
        ("DELETE", "/api/v1/zones/{}/records/r1", "alice.com.br", None),
        ("PUT", "/api/v1/company/members/{}/role", str(member.user_id), {"role": "admin"}),
        ("DELETE", "/api/v1/company/members/{}", str(member.user_id), None),
        ("DELETE", "/api/v1/company/invitations/{}", invitation["id"], None),
        ("DELETE", "/api/v1/company/tokens/{}", token["id"], None),
    ]
    staff_probes: list[tuple[str, str, str, Any]] = [
        ("POST", "/api/v1/invoices/{}/refund", mine["invoice"]["invoice_id"], {"reason": "x"}),
        ("POST", "/api/v1/invoices/{}/void", mine["invoice"]["invoice_id"], {"reason": "x"}),
        ("POST", "/api/v1/jobs/{}/retry", mine["job"]["job_id"], None),
        ("POST", "/api/v1/jobs/{}/cancel", mine["job"]["job_id"], {}),
    ]
    attackers: list[tuple[str, Person | None, httpx.AsyncClient | Any, list[Any]]] = [
        ("bob", bob, bob.browser, probes),
        ("bob's token", None, bob_token, [p for p in probes if "/company/" not in p[1]]),
        ("staff on bob", staff, staff.browser, probes + staff_probes),
    ]
    for who, _, browser, attempts in attackers:
        for method, template, alice_id, body in attempts:
            unknown = "naoexiste.com.br" if "zones" in template else str(uuid4())
            theirs = await browser.request(method, template.format(alice_id), json=body)
            missing = await browser.request(method, template.format(unknown), json=body)
            assert theirs.status_code == 404, (who, method, template, theirs.text)
            assert shape(theirs) == shape(missing), (who, method, template)
            answer = {k: v for k, v in theirs.json().items() if k != "instance"}  # echoes the path
            assert alice_id not in str(answer)

    # nor can one switch into a company one does not belong to
    switch = await bob.browser.put("/api/v1/me/company", json={"company_id": str(a)})
    unknown_switch = await bob.browser.put("/api/v1/me/company", json={"company_id": str(uuid4())})
    assert switch.status_code == 404 and shape(switch) == shape(unknown_switch)

    # lists show one's own company only
    for path in ("/api/v1/invoices", "/api/v1/services", "/api/v1/zones", "/api/v1/jobs"):
        listed = expect(await bob.browser.get(path), 200)
        assert all(item["company_id"] == str(bob.company_id) for item in listed["items"]), path
        assert str(a) not in str(listed)
    assert [
        m["email"] for m in expect(await bob.browser.get("/api/v1/company/members"), 200)["items"]
    ] == [bob.email]

    # every query carried the caller's company in the envelope, never as a parameter
    for query in peers.asked:
        assert "company_id" not in query.payload.params
        if query.company_id is not None:
            assert query.company_id in (bob.company_id, a)
    assert not any(
        q.company_id == a and q.actor.id in (str(bob.user_id), str(staff.user_id))
        for q in peers.asked
    )

    # nothing changed on Alice's side ...
    members = expect(await alice.browser.get("/api/v1/company/members"), 200)["items"]
    assert {m["email"]: m["role"] for m in members}[member.email] == "viewer"
    pending = expect(await alice.browser.get("/api/v1/company/invitations"), 200)["items"]
    assert [i["id"] for i in pending] == [invitation["id"]]
    assert (await alice_token.get("/api/v1/invoices")).status_code == 200

    # ... and no command about her things was ever sent: a marker command sent
    # afterwards arrives, and nothing before it names her ids
    placed = expect(
        await bob.browser.post(
            "/api/v1/orders",
            json={"plan_code": "hospedagem-pro", "domain": "bob.com.br", "cycle": "monthly"},
        ),
        202,
    )
    await expect_marker_and_nothing_of(harness, BILLING_COMMANDS.name, placed["resource_id"], mine)
    expect(await bob.browser.post("/api/v1/zones/bob.com.br/records", json=record), 202)
    await expect_marker_and_nothing_of(harness, DNS_COMMANDS.name, "bob.com.br", mine)
    assert not (await read_all(harness.bootstrap, PROVISIONING_COMMANDS.name))[
        PROVISIONING_COMMANDS.name
    ]


async def expect_marker_and_nothing_of(
    harness: Harness, topic: str, marker: str, theirs: dict[str, dict[str, Any]]
) -> None:
    messages = await read_topic(
        harness.bootstrap,
        topic,
        until=lambda seen: any(marker in m.payload.model_dump_json() for m in seen),
        what=f"the marker {marker}",
    )
    text = "".join(m.model_dump_json() for m in messages)
    for item in theirs.values():
        for key, value in item.items():
            if (key.endswith("_id") and key != "company_id") or key == "domain":
                assert str(value) not in text, (topic, key, value)
