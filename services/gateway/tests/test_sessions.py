"""Sessions: cookie flags, ids that change at login and on privilege changes,
CSRF on every cookie-authenticated change, logout everywhere."""

from __future__ import annotations

import hashlib

import redis.asyncio as redis
from gateway_kit import CSRF_COOKIE, PASSWORD, SESSION_COOKIE, Harness, Person, expect

from hospeda.contracts.identity import CompanyRole


def cookie_attributes(set_cookies: list[str], name: str) -> dict[str, str]:
    line = next(c for c in set_cookies if c.startswith(name + "="))
    parts = [p.strip() for p in line.split(";")[1:]]
    return {p.split("=")[0].lower(): (p.split("=", 1)[1] if "=" in p else "") for p in parts}


async def test_session_cookie_is_secure_httponly_samesite_and_host_bound(harness: Harness) -> None:
    owner = await harness.sign_up(login=False)
    await harness.login(owner)
    session = cookie_attributes(owner.browser.last_set_cookies, SESSION_COOKIE)
    assert {"secure", "httponly", "samesite", "path"} <= set(session)
    assert session["samesite"].lower() == "lax" and session["path"] == "/"
    assert "domain" not in session  # __Host- cookies belong to this exact host
    csrf = cookie_attributes(owner.browser.last_set_cookies, CSRF_COOKIE)
    assert "secure" in csrf and "httponly" not in csrf  # the web app reads it


async def test_redis_never_holds_a_usable_session_id(harness: Harness, redis_url: str) -> None:
    owner = await harness.sign_up()
    session_id = owner.browser.session_id
    assert session_id
    client = redis.from_url(redis_url)
    try:
        keys = [k.decode() for k in await client.keys("hospeda:session:*")]
        assert "hospeda:session:" + hashlib.sha256(session_id.encode()).hexdigest() in keys
        for key in keys:
            assert session_id not in key
            assert session_id.encode() not in (await client.get(key) or b"")
    finally:
        await client.aclose()


async def test_the_id_changes_at_login_and_the_previous_one_dies(harness: Harness) -> None:
    owner = await harness.sign_up()
    planted = owner.browser.session_id  # e.g. an id an attacker managed to plant
    await harness.login(owner)
    assert owner.browser.session_id not in (None, planted)
    attacker = harness.browser()
    attacker.cookies = {SESSION_COOKIE: str(planted)}
    assert (await attacker.get("/api/v1/me")).status_code == 401


async def test_the_id_changes_when_2fa_completes(harness: Harness) -> None:
    owner = await harness.sign_up()
    await harness.enable_2fa(owner)
    browser = harness.browser()
    expect(
        await browser.post("/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}),
        200,
    )
    pending = browser.session_id
    assert owner.totp is not None
    expect(await browser.post("/api/v1/auth/login/2fa", json={"code": owner.totp.code()}), 200)
    assert browser.session_id not in (None, pending)
    thief = harness.browser()
    thief.cookies = {SESSION_COOKIE: str(pending), CSRF_COOKIE: str(browser.csrf)}
    assert (await thief.get("/api/v1/me")).status_code == 401
    assert (await thief.post("/api/v1/auth/login/2fa", json={"code": "123456"})).status_code == 401


async def test_a_pending_2fa_session_reaches_nothing_else(harness: Harness) -> None:
    owner = await harness.sign_up()
    await harness.enable_2fa(owner)
    browser = harness.browser()
    await browser.post("/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD})
    for path in ("/api/v1/me", "/api/v1/company", "/api/v1/auth/session", "/api/v1/invoices"):
        assert (await browser.get(path)).status_code == 401, path


async def test_the_id_changes_when_someone_else_changes_your_role(harness: Harness) -> None:
    owner = await harness.sign_up()
    viewer = await harness.invite(owner, CompanyRole.VIEWER)
    before = viewer.browser.session_id
    assert (await viewer.browser.get("/api/v1/company/members")).status_code == 403
    expect(
        await owner.browser.put(
            f"/api/v1/company/members/{viewer.user_id}/role", json={"role": "admin"}
        ),
        200,
    )
    # the very next request carries the new privileges and a new id
    assert (await viewer.browser.get("/api/v1/company/members")).status_code == 200
    assert viewer.browser.session_id not in (None, before)
    assert await harness.session_ttl(str(before)) <= 31


async def test_a_refused_request_still_delivers_the_rotated_id(harness: Harness) -> None:
    owner = await harness.sign_up()
    admin = await harness.invite(owner, CompanyRole.ADMIN)
    before = admin.browser.session_id
    expect(
        await owner.browser.put(
            f"/api/v1/company/members/{admin.user_id}/role", json={"role": "viewer"}
        ),
        200,
    )
    refused = await admin.browser.get("/api/v1/company/members")
    assert refused.status_code == 403
    assert admin.browser.session_id not in (None, before)
    assert (await admin.browser.get("/api/v1/company")).status_code == 200


async def test_csrf_is_required_on_every_cookie_authenticated_change(harness: Harness) -> None:
    owner = await harness.sign_up()
    browser = owner.browser
    attempts = [
        ("PATCH", "/api/v1/company", {"name": "Tomada"}),
        ("POST", "/api/v1/company/invitations", {"email": "x@exemplo.com.br", "role": "viewer"}),
        ("POST", "/api/v1/auth/logout", None),
        ("POST", "/api/v1/auth/2fa/setup", None),
        ("PUT", "/api/v1/me/company", {"company_id": str(owner.company_id)}),
        (
            "POST",
            "/api/v1/orders",
            {"plan_code": "p", "domain": "paoquente.com.br", "cycle": "monthly"},
        ),
    ]
    for method, path, body in attempts:
        missing = await browser.request(method, path, json=body, csrf=False)
        assert missing.status_code == 403 and missing.json()["code"] == "csrf_failed", path
        forged = await browser.request(
            method, path, json=body, csrf=False, headers={"X-CSRF-Token": "forjado"}
        )
        assert forged.status_code == 403 and forged.json()["code"] == "csrf_failed", path
    # another session's token does not fit this one
    other = Person(owner.email, harness.browser(), owner.user_id)
    await harness.login(other)
    crossed = await browser.request(
        "PATCH",
        "/api/v1/company",
        json={"name": "Tomada"},
        csrf=False,
        headers={"X-CSRF-Token": str(other.browser.csrf)},
    )
    assert crossed.status_code == 403
    # nothing changed; reads need no token; with the token the change goes through
    assert expect(await browser.get("/api/v1/company"), 200)["name"] == "Padaria Pão Quente"
    expect(await browser.patch("/api/v1/company", json={"name": "Padaria Nova"}), 200)


async def test_forms_posted_from_another_site_are_refused(harness: Harness) -> None:
    owner = await harness.sign_up(login=False)
    browser = harness.browser()
    answer = await browser.post(
        "/api/v1/auth/login",
        json={"email": owner.email, "password": PASSWORD},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert answer.status_code == 403 and answer.json()["code"] == "cross_site"
    assert browser.session_id is None


async def test_logout_everywhere_ends_every_session(harness: Harness) -> None:
    owner = await harness.sign_up()
    devices = [Person(owner.email, harness.browser(), owner.user_id) for _ in range(2)]
    for device in devices:
        await harness.login(device)
    expect(await owner.browser.post("/api/v1/auth/logout-everywhere"), 200)
    for browser in (owner.browser, *(d.browser for d in devices)):
        assert (await browser.get("/api/v1/me")).status_code == 401


async def test_logging_out_as_the_id_rotates_ends_both_ids(harness: Harness) -> None:
    owner = await harness.sign_up()
    member = await harness.invite(owner, CompanyRole.VIEWER)
    before = member.browser.session_id
    expect(
        await owner.browser.put(
            f"/api/v1/company/members/{member.user_id}/role", json={"role": "billing"}
        ),
        200,
    )
    expect(await member.browser.post("/api/v1/auth/logout"), 200)  # rotates, then ends
    assert member.browser.session_id is None
    assert await harness.session_ttl(str(before)) == -2
    replay = harness.browser()
    replay.cookies = {SESSION_COOKIE: str(before)}
    assert (await replay.get("/api/v1/me")).status_code == 401
