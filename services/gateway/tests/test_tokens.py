"""API tokens: one company, chosen permissions, shown once, stored hashed,
revocable, last-used time, never more than their creator."""

from __future__ import annotations

import sqlalchemy as sa
from gateway_kit import Harness, expect

from hospeda.contracts.identity import CompanyRole
from hospeda.gateway.models import ApiToken
from hospeda.runtime.db import Database


async def test_a_token_does_what_its_scopes_allow_and_nothing_else(harness: Harness) -> None:
    owner = await harness.sign_up()
    assert owner.company_id is not None
    harness.peers.add("invoices", owner.company_id, invoice_id="inv-1", status="open")
    created = expect(
        await owner.browser.post(
            "/api/v1/company/tokens",
            json={"name": "ERP", "permissions": ["invoices:read", "catalog:read"]},
        ),
        201,
    )
    secret = created["token"]
    assert secret.startswith("hsp_") and created["prefix"] == secret[:12]
    assert created["permissions"] == ["catalog:read", "invoices:read"]

    erp = harness.browser(token=secret)
    listed = expect(await erp.get("/api/v1/invoices"), 200)
    assert [i["invoice_id"] for i in listed["items"]] == ["inv-1"]
    for method, path, body in [
        ("GET", "/api/v1/company/members", None),
        ("GET", "/api/v1/services", None),
        ("POST", "/api/v1/company/invitations", {"email": "a@exemplo.com.br", "role": "owner"}),
        ("PATCH", "/api/v1/company", {"name": "Roubada"}),
    ]:
        refused = await erp.request(method, path, json=body)
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden", path
    # a token is not a person: no account routes, no staff routes
    for method, path in [
        ("GET", "/api/v1/me"),
        ("POST", "/api/v1/auth/logout"),
        ("GET", "/api/v1/staff/companies"),
    ]:
        refused = await erp.request(method, path)
        assert refused.status_code == 403 and refused.json()["code"] == "token_not_allowed", path

    # shown once: listing shows the prefix, never the token
    tokens = expect(await owner.browser.get("/api/v1/company/tokens"), 200)["items"]
    assert [t["prefix"] for t in tokens] == [created["prefix"]]
    assert secret not in str(tokens)
    assert tokens[0]["last_used_at"] is not None  # it was used above

    # stored hashed
    db = Database(harness.database_url)
    try:
        async with db.transaction() as session:
            rows = (await session.execute(sa.select(ApiToken))).scalars().all()
    finally:
        await db.dispose()
    assert len(rows) == 1 and secret not in rows[0].token_hash and len(rows[0].token_hash) == 64

    # revoked: refused at once
    expect(await owner.browser.delete(f"/api/v1/company/tokens/{created['id']}"), 200)
    assert (await erp.get("/api/v1/invoices")).status_code == 401
    assert expect(await owner.browser.get("/api/v1/company/tokens"), 200)["items"][0]["revoked"]


async def test_tokens_never_exceed_their_creator_nor_mint_more_power(harness: Harness) -> None:
    owner = await harness.sign_up()
    for permission in ("members:manage", "tokens:manage", "invoices:adjust", "staff:manage"):
        answer = await owner.browser.post(
            "/api/v1/company/tokens", json={"name": "X", "permissions": [permission]}
        )
        assert answer.status_code == 422, permission
        assert answer.json()["code"] in ("permission_not_grantable", "validation_failed")
    unknown = await owner.browser.post(
        "/api/v1/company/tokens", json={"name": "X", "permissions": ["tudo"]}
    )
    assert unknown.status_code == 422


async def test_a_token_dies_with_its_creators_membership(harness: Harness) -> None:
    owner = await harness.sign_up()
    admin = await harness.invite(owner, CompanyRole.ADMIN)
    secret = expect(
        await admin.browser.post(
            "/api/v1/company/tokens", json={"name": "Script", "permissions": ["company:read"]}
        ),
        201,
    )["token"]
    script = harness.browser(token=secret)
    assert (await script.get("/api/v1/company")).status_code == 200
    expect(await owner.browser.delete(f"/api/v1/company/members/{admin.user_id}"), 200)
    assert (await script.get("/api/v1/company")).status_code == 401


async def test_a_token_follows_its_creators_current_role(harness: Harness) -> None:
    owner = await harness.sign_up()
    admin = await harness.invite(owner, CompanyRole.ADMIN)
    secret = expect(
        await admin.browser.post(
            "/api/v1/company/tokens",
            json={"name": "Script", "permissions": ["members:read", "company:read"]},
        ),
        201,
    )["token"]
    script = harness.browser(token=secret)
    assert (await script.get("/api/v1/company/members")).status_code == 200
    expect(
        await owner.browser.put(
            f"/api/v1/company/members/{admin.user_id}/role", json={"role": "viewer"}
        ),
        200,
    )
    assert (await script.get("/api/v1/company/members")).status_code == 403
    assert (await script.get("/api/v1/company")).status_code == 200


async def test_tokens_need_no_csrf_and_garbage_tokens_are_401(harness: Harness) -> None:
    owner = await harness.sign_up()
    secret = expect(
        await owner.browser.post(
            "/api/v1/company/tokens",
            json={"name": "Pedidos", "permissions": ["orders:create"], "expires_in_days": 30},
        ),
        201,
    )["token"]
    orders = harness.browser(token=secret)
    placed = await orders.post(
        "/api/v1/orders",
        json={"plan_code": "hospedagem-pro", "domain": "paoquente.com.br", "cycle": "monthly"},
    )
    assert placed.status_code == 202, placed.text
    for bad in ("hsp_nao-existe", "Basic abc", secret[:-2]):
        intruder = harness.browser(token=bad)
        assert (await intruder.get("/api/v1/company")).status_code == 401
