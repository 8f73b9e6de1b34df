"""Roles always from the company the request acts on; recent re-authentication for
sensitive changes; a password reset ends every session and says so; idempotency
keys per caller and company."""

from __future__ import annotations

import asyncio

from gateway_kit import (
    PASSWORD,
    Harness,
    HarnessFactory,
    Person,
    emailed,
    emailed_token,
    expect,
    unique_email,
)

from hospeda.contracts import Actor
from hospeda.contracts.identity import CompanyRole
from hospeda.gateway.outgoing import Origin
from hospeda.gateway.permissions import StaffRole

SYSTEM = Origin(actor=Actor.system("test"), company_id=None, ip=None, user_agent=None)


async def _join(harness: Harness, owner: Person, person: Person, role: CompanyRole) -> None:
    """``owner`` invites the existing ``person``, who accepts: it becomes their active company."""
    expect(
        await owner.browser.post(
            "/api/v1/company/invitations", json={"email": person.email, "role": role.value}
        ),
        201,
    )
    token = await emailed_token(harness.bootstrap, template="invitation", email=person.email)
    expect(await person.browser.post("/api/v1/me/invitations/accept", json={"token": token}), 200)


async def test_losing_staff_ends_acting_and_never_carries_the_acting_role(
    harness: Harness,
) -> None:
    staff = await harness.staff(StaffRole.SUPERADMIN)  # owner of their own company
    own_company = staff.company_id
    assert own_company is not None
    other = await harness.sign_up(company="Outra Empresa")
    await _join(harness, other, staff, CompanyRole.VIEWER)  # a viewer in the other company
    await harness.act_on(staff, own_company)  # acting on the company they own
    await harness.server.call(
        lambda gateway: gateway.staff.set_staff_role(SYSTEM, staff.user_id, None)
    )
    session = expect(await staff.browser.get("/api/v1/auth/session"), 200)
    assert session["acting"] is False and session["company_id"] == str(other.company_id)
    # a viewer there: the owner role of the company acted on does not come along
    refused = await staff.browser.patch("/api/v1/company", json={"name": "Tomada"})
    assert refused.status_code == 403, refused.text
    company = expect(await other.browser.get("/api/v1/company"), 200)
    assert company["name"] == "Outra Empresa"


async def test_turning_2fa_off_ends_acting(harness: Harness) -> None:
    staff = await harness.staff(StaffRole.SUPPORT)
    other = await harness.sign_up(company="Cliente")
    assert other.company_id is not None and staff.totp is not None
    await harness.act_on(staff, other.company_id)
    expect(
        await staff.browser.post(
            "/api/v1/auth/2fa/disable", json={"password": PASSWORD, "code": staff.totp.code()}
        ),
        200,
    )
    session = expect(await staff.browser.get("/api/v1/auth/session"), 200)
    assert session["acting"] is False and session["company_id"] == str(staff.company_id)


async def test_sensitive_changes_need_a_recent_authentication(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(reauth_window_s=3)
    owner = await harness.sign_up()
    staff = await harness.staff(StaffRole.SUPPORT)
    await asyncio.sleep(3.5)  # the sign-ins are no longer recent
    token = {"name": "CI", "permissions": ["company:read"]}
    for person, method, url, body in (
        (owner, "POST", "/api/v1/company/tokens", token),
        (owner, "POST", "/api/v1/auth/2fa/setup", None),
        (staff, "POST", "/api/v1/staff/acting", None),
    ):
        if body is None and url.endswith("acting"):
            body = {"company_id": str(owner.company_id), "reason": "Chamado #7"}
        refused = await person.browser.request(method, url, json=body)
        assert refused.status_code == 403, refused.text
        problem = refused.json()
        assert problem["code"] == "reauthentication_required"
        assert "/api/v1/auth/reauthenticate" in problem["detail"]
    wrong = await owner.browser.post(
        "/api/v1/auth/reauthenticate", json={"password": "chute-errado"}
    )
    assert wrong.status_code == 401
    expect(
        await owner.browser.post("/api/v1/auth/reauthenticate", json={"password": PASSWORD}), 200
    )
    expect(await owner.browser.post("/api/v1/company/tokens", json=token), 201)
    assert staff.totp is not None
    expect(
        await staff.browser.post("/api/v1/auth/reauthenticate", json={"code": staff.totp.code()}),
        200,
    )
    await harness.act_on(staff, owner.company_id)  # type: ignore[arg-type]
    both = await owner.browser.post(
        "/api/v1/auth/reauthenticate", json={"password": PASSWORD, "code": "123456"}
    )
    assert both.status_code == 422


async def test_mark_reauthenticated_is_what_a_passkey_calls(make_harness: HarnessFactory) -> None:
    harness = await make_harness(reauth_window_s=3)
    owner = await harness.sign_up()
    await asyncio.sleep(3.5)
    refused = await owner.browser.post("/api/v1/auth/2fa/setup")
    assert refused.status_code == 403
    session_id = owner.browser.session_id
    assert session_id is not None

    async def mark(gateway):  # type: ignore[no-untyped-def]
        session = await gateway.auth.sessions.get(session_id)
        await gateway.auth.sessions.mark_reauthenticated(session)

    await harness.server.call(mark)
    expect(await owner.browser.post("/api/v1/auth/2fa/setup"), 200)


async def test_a_password_reset_ends_every_session_and_says_so(harness: Harness) -> None:
    owner = await harness.sign_up()
    phone = harness.browser()
    expect(
        await phone.post("/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}),
        200,
    )
    anonymous = harness.browser()
    expect(await anonymous.post("/api/v1/auth/password/forgot", json={"email": owner.email}), 202)
    token = await emailed_token(harness.bootstrap, template="password-reset", email=owner.email)
    expect(
        await anonymous.post(
            "/api/v1/auth/password/reset",
            json={"token": token, "password": "uma-senha-nova-bem-longa"},
        ),
        200,
    )
    for browser in (owner.browser, phone):
        assert (await browser.get("/api/v1/auth/session")).status_code == 401
    told = await emailed(harness.bootstrap, template="password-changed", email=owner.email)
    assert str(told.data["tokens_link"]).endswith("/app/tokens")
    assert "token=" not in str(told.data)


async def test_idempotency_keys_are_per_company(harness: Harness) -> None:
    owner = await harness.sign_up(company="Primeira")
    second = await harness.sign_up(company="Segunda")
    await _join(harness, second, owner, CompanyRole.ADMIN)  # owner's active company: Segunda
    invite = {"email": unique_email("convidada"), "role": "viewer"}
    headers = {"Idempotency-Key": "convite-1"}
    first = await owner.browser.post("/api/v1/company/invitations", json=invite, headers=headers)
    expect(first, 201)
    expect(
        await owner.browser.put("/api/v1/me/company", json={"company_id": str(owner.company_id)}),
        200,
    )
    again = await owner.browser.post("/api/v1/company/invitations", json=invite, headers=headers)
    expect(again, 201)
    assert again.headers.get("Idempotent-Replayed") is None
    assert again.json()["id"] != first.json()["id"]
    pending = expect(await owner.browser.get("/api/v1/company/invitations"), 200)
    assert [i["email"] for i in pending["items"]] == [invite["email"]]
