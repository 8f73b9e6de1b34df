"""The audit trail through the gateway: owners, admins and staff auditors
acting on the company read and export it; everyone else gets 403 and no
data — the audit service is not even asked."""

from __future__ import annotations

import csv
import io
import json
from uuid import uuid4

from gateway_kit import Harness, expect

from hospeda.contracts.identity import CompanyRole
from hospeda.gateway.permissions import StaffRole


def audit_queries(harness: Harness) -> list[dict]:  # type: ignore[type-arg]
    return [dict(q.payload.params) for q in harness.peers.asked if q.payload.name == "entries.list"]


async def test_only_owners_admins_and_acting_auditors_read_the_trail(harness: Harness) -> None:
    owner = await harness.sign_up()
    company = owner.company_id
    assert company is not None
    harness.peers.add("entries", company, action="invoice.refund", hash="a" * 64)
    viewer = await harness.invite(owner, CompanyRole.VIEWER)
    billing = await harness.invite(owner, CompanyRole.BILLING)
    superadmin, auditor = (
        await harness.staff(StaffRole.SUPERADMIN),
        await harness.staff(StaffRole.AUDITOR),
    )
    for staff in (superadmin, auditor):
        await harness.act_on(staff, company)

    for person in (viewer, billing, superadmin):
        for url in ("/api/v1/audit", "/api/v1/audit/export?format=json"):
            refused = await person.browser.get(url)
            assert refused.status_code == 403, (url, refused.text)
            assert "items" not in refused.text and "invoice.refund" not in refused.text
    assert audit_queries(harness) == []  # nothing was even asked for them

    for person in (owner, auditor):
        page = expect(await person.browser.get("/api/v1/audit"), 200)
        assert [i["action"] for i in page["items"]] == ["invoice.refund"]
    asked = harness.peers.asked[-1]
    assert asked.company_id == company  # the tenant travels in the envelope, never as a filter


async def test_filters_reach_the_audit_service(harness: Harness) -> None:
    owner = await harness.sign_up()
    correlation = uuid4()
    expect(
        await owner.browser.get(
            "/api/v1/audit",
            params={
                "action": "invoice.*",
                "entity": "invoice",
                "entity_id": "inv-1",
                "actor_id": "u-1",
                "correlation_id": str(correlation),
                "since": "2026-11-01T00:00:00Z",
                "until": "2026-12-01T00:00:00+00:00",
                "limit": 5,
            },
        ),
        200,
    )
    params = audit_queries(harness)[-1]
    assert params["action"] == "invoice.*" and params["entity_id"] == "inv-1"
    assert params["correlation_id"] == str(correlation) and params["limit"] == 5
    assert params["since"].startswith("2026-11-01T00:00:00")


async def test_the_trail_exports_as_csv_and_json(harness: Harness) -> None:
    owner = await harness.sign_up()
    company = owner.company_id
    harness.peers.add(
        "entries",
        company,
        seq=1,
        action="member.invited",
        actor={"kind": "user", "id": "u-1"},
        after={"note": '=HYPERLINK("http://evil")'},
        user_agent="-2+3",
        hash="b" * 64,
    )
    harness.peers.add("entries", company, seq=2, action="invoice.refund", hash="c" * 64)
    exported = await owner.browser.get("/api/v1/audit/export", params={"format": "csv"})
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["action"] for r in rows] == ["member.invited", "invoice.refund"]
    assert rows[0]["actor_id"] == "u-1"
    assert rows[0]["user_agent"] == "'-2+3"  # no spreadsheet formula
    assert json.loads(rows[0]["after"])["note"].startswith("=HYPERLINK")  # inside JSON: inert
    document = json.loads((await owner.browser.get("/api/v1/audit/export")).text)
    assert document["format"] == "hospeda-audit-export/v1"
    assert [i["seq"] for i in document["items"]] == [1, 2]
    assert all(q.get("export") in ("csv", "json") for q in audit_queries(harness))
