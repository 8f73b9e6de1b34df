"""Accounts end to end: sign-up → e-mail confirmation → login → 2FA → invite →
role change → logout, password reset, recovery codes, several companies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from gateway_kit import (
    PASSWORD,
    Harness,
    HarnessFactory,
    Person,
    company_registered_by,
    emailed,
    emailed_token,
    expect,
    link_token,
    read_topic,
    unique_email,
)

from hospeda.contracts import ActorKind, Envelope
from hospeda.contracts.audit import AuditRecord
from hospeda.contracts.identity import (
    CompanyRegistered,
    CompanyRole,
    MembershipGranted,
    MembershipRoleChanged,
    UserRegistered,
)
from hospeda.contracts.notify import SendNotification
from hospeda.contracts.topics import AUDIT_RECORDS, IDENTITY_COMPANY, IDENTITY_USER, NOTIFY_COMMANDS
from hospeda.gateway.demo import DEMO_EMAIL, DEMO_PASSWORD
from hospeda.gateway.models import EmailToken
from hospeda.runtime.db import Database


async def audit_actions(harness: Harness, *, until: str) -> list[Envelope[Any]]:
    records = await read_topic(
        harness.bootstrap,
        AUDIT_RECORDS.name,
        until=lambda seen: any(m.payload.action == until for m in seen),
        what=f"audit record {until}",
    )
    return [m for m in records if isinstance(m.payload, AuditRecord)]


async def test_sign_up_login_2fa_invite_role_change_logout(harness: Harness) -> None:
    # sign-up creates the company and its owner; the e-mail must be confirmed first
    email = unique_email("dona")
    browser = harness.browser()
    signed = expect(
        await browser.post(
            "/api/v1/auth/signup",
            json={
                "company_name": "Padaria Pão Quente",
                "name": "Maria",
                "email": email,
                "password": PASSWORD,
            },
        ),
        202,
    )
    assert signed == {"status": "check_your_email"}
    refused = await browser.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert refused.status_code == 403 and refused.json()["code"] == "email_not_verified"
    verification = await emailed(harness.bootstrap, template="verify-email", email=email)
    token = link_token(verification)
    expect(await browser.post("/api/v1/auth/verify-email", json={"token": token}), 200)
    again = await browser.post("/api/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 400 and again.json()["code"] == "invalid_link"  # single use

    user_id = verification.recipient.user_id
    assert user_id is not None
    owner = Person(email, browser, user_id, await company_registered_by(harness.bootstrap, user_id))
    login = await harness.login(owner)
    assert login["mfa_required"] is False and login["company_id"] == str(owner.company_id)
    me = expect(await browser.get("/api/v1/me"), 200)
    assert me["role"] == "owner" and me["two_factor"] is False
    assert [c["name"] for c in me["companies"]] == ["Padaria Pão Quente"]

    # 2FA on: ten recovery codes, shown once; the next login needs a code
    await harness.enable_2fa(owner)
    assert len(owner.recovery_codes) == 10 and len(set(owner.recovery_codes)) == 10
    expect(await browser.post("/api/v1/auth/logout"), 200)
    assert (await browser.get("/api/v1/me")).status_code == 401
    half = expect(
        await browser.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}), 200
    )
    assert half["mfa_required"] is True
    assert (await browser.get("/api/v1/me")).status_code == 401  # password alone is not enough
    wrong = await browser.post("/api/v1/auth/login/2fa", json={"code": "000000"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "invalid_code"
    assert owner.totp is not None
    expect(await browser.post("/api/v1/auth/login/2fa", json={"code": owner.totp.code()}), 200)
    assert expect(await browser.get("/api/v1/me"), 200)["two_factor"] is True

    # the owner invites a technical person, who signs up from the e-mailed link
    tech = await harness.invite(owner, CompanyRole.TECHNICAL)
    assert tech.company_id == owner.company_id
    tech_me = expect(await tech.browser.get("/api/v1/me"), 200)
    assert tech_me["role"] == "technical"
    assert "dns:write" in tech_me["permissions"] and "orders:create" not in tech_me["permissions"]
    order = {"plan_code": "hospedagem-pro", "domain": "paoquente.com.br", "cycle": "monthly"}
    assert (await tech.browser.post("/api/v1/orders", json=order)).status_code == 403

    # a role change takes effect at once, and the member's session gets a new id
    old_session = tech.browser.session_id
    expect(
        await browser.put(f"/api/v1/company/members/{tech.user_id}/role", json={"role": "billing"}),
        200,
    )
    placed = await tech.browser.post("/api/v1/orders", json=order)
    assert placed.status_code == 202, placed.text
    assert tech.browser.session_id != old_session
    # the old id only lives on briefly, for requests the browser had already sent
    assert 0 < await harness.session_ttl(str(old_session)) <= 31

    # logout ends the session for good
    expect(await tech.browser.post("/api/v1/auth/logout"), 200)
    assert tech.browser.session_id is None
    assert (await tech.browser.get("/api/v1/me")).status_code == 401

    # identity facts went out through the outbox, audit records for every step
    company_events = await read_topic(
        harness.bootstrap, IDENTITY_COMPANY.name, until=lambda seen: len(seen) >= 1
    )
    assert isinstance(company_events[0].payload, CompanyRegistered)
    assert company_events[0].payload.owner_user_id == owner.user_id
    user_events = await read_topic(
        harness.bootstrap,
        IDENTITY_USER.name,
        until=lambda seen: any(isinstance(m.payload, MembershipRoleChanged) for m in seen),
    )
    kinds = [type(m.payload) for m in user_events]
    assert kinds == [
        UserRegistered,
        MembershipGranted,
        UserRegistered,
        MembershipGranted,
        MembershipRoleChanged,
    ]
    changed = user_events[-1]
    assert changed.payload.previous_role == "technical" and changed.payload.role == "billing"
    assert changed.actor.id == str(owner.user_id) and changed.company_id == owner.company_id

    records = await audit_actions(harness, until="user.logout")
    actions = [r.payload.action for r in records]
    for expected in (
        "company.signed_up",
        "user.login_unverified",
        "user.email_verified",
        "user.login",
        "user.totp_setup_started",
        "user.totp_enabled",
        "user.logout",
        "user.login_password",
        "user.login_2fa_failed",
        "member.invited",
        "member.joined",
        "member.role_changed",
        "order.place",
    ):
        assert expected in actions, (expected, actions)
    role_change = next(r for r in records if r.payload.action == "member.role_changed")
    assert role_change.payload.before == {"role": "technical"}
    assert role_change.payload.after == {"role": "billing"}
    assert role_change.payload.user_agent == "pytest-browser/1.0"
    assert role_change.ip == "127.0.0.1" and role_change.company_id == owner.company_id
    assert role_change.actor.kind == ActorKind.USER and role_change.actor.id == str(owner.user_id)


async def test_password_reset_by_email_link(harness: Harness) -> None:
    owner = await harness.sign_up()
    other_device = harness.browser()
    other = Person(owner.email, other_device, owner.user_id)
    await harness.login(other)

    anonymous = harness.browser()
    answer = await anonymous.post("/api/v1/auth/password/forgot", json={"email": owner.email})
    assert answer.status_code == 202
    unknown = await anonymous.post(
        "/api/v1/auth/password/forgot", json={"email": unique_email("ninguem")}
    )
    assert unknown.status_code == 202 and unknown.json() == answer.json()  # reveals nothing

    token = await emailed_token(harness.bootstrap, template="password-reset", email=owner.email)
    notifications = await read_topic(
        harness.bootstrap, NOTIFY_COMMANDS.name, until=lambda seen: len(seen) >= 2
    )
    resets = [
        m
        for m in notifications
        if isinstance(m.payload, SendNotification) and m.payload.template == "password-reset"
    ]
    assert len(resets) == 1  # none for the unknown address
    assert PASSWORD not in resets[0].model_dump_json()
    assert resets[0].payload.recipient.user_id == owner.user_id

    weak = await anonymous.post(
        "/api/v1/auth/password/reset", json={"token": token, "password": "curta"}
    )
    assert weak.status_code == 422
    new_password = "outra-frase-bem-longa-42"
    expect(
        await anonymous.post(
            "/api/v1/auth/password/reset", json={"token": token, "password": new_password}
        ),
        200,
    )
    # every session of the account ended; the link works once; the old password is gone
    assert (await owner.browser.get("/api/v1/me")).status_code == 401
    assert (await other_device.get("/api/v1/me")).status_code == 401
    reused = await anonymous.post(
        "/api/v1/auth/password/reset", json={"token": token, "password": "mais-uma-frase-longa"}
    )
    assert reused.status_code == 400 and reused.json()["code"] == "invalid_link"
    old = await anonymous.post(
        "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
    )
    assert old.status_code == 401
    owner.password = new_password
    await harness.login(owner)


async def test_an_expired_reset_link_is_refused(harness: Harness) -> None:
    owner = await harness.sign_up(login=False)
    anonymous = harness.browser()
    await anonymous.post("/api/v1/auth/password/forgot", json={"email": owner.email})
    token = await emailed_token(harness.bootstrap, template="password-reset", email=owner.email)
    db = Database(harness.database_url)
    try:
        async with db.transaction() as session:
            await session.execute(
                sa.update(EmailToken)
                .where(EmailToken.purpose == "password-reset")
                .values(expires_at=datetime(2000, 1, 1, tzinfo=UTC))
            )
    finally:
        await db.dispose()
    expired = await anonymous.post(
        "/api/v1/auth/password/reset", json={"token": token, "password": "outra-frase-bem-longa-42"}
    )
    assert expired.status_code == 400 and expired.json()["code"] == "invalid_link"


async def test_a_recovery_code_signs_in_once(harness: Harness) -> None:
    owner = await harness.sign_up()
    await harness.enable_2fa(owner)
    code = owner.recovery_codes[0]
    for attempt in range(2):
        browser = harness.browser()
        half = expect(
            await browser.post(
                "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
            ),
            200,
        )
        assert half["mfa_required"]
        answer = await browser.post("/api/v1/auth/login/2fa", json={"code": code.upper()})
        if attempt == 0:
            assert answer.status_code == 200, answer.text
        else:
            assert answer.status_code == 400 and answer.json()["code"] == "invalid_code"


async def test_changing_the_password_ends_other_sessions(harness: Harness) -> None:
    owner = await harness.sign_up()
    laptop = Person(owner.email, harness.browser(), owner.user_id)
    await harness.login(laptop)
    before = owner.browser.session_id
    wrong = await owner.browser.post(
        "/api/v1/auth/password/change",
        json={"current_password": "nao-e-esta", "new_password": "outra-frase-bem-longa-42"},
    )
    assert wrong.status_code == 401
    expect(
        await owner.browser.post(
            "/api/v1/auth/password/change",
            json={"current_password": PASSWORD, "new_password": "outra-frase-bem-longa-42"},
        ),
        200,
    )
    assert owner.browser.session_id not in (None, before)
    assert (await owner.browser.get("/api/v1/me")).status_code == 200
    assert (await laptop.browser.get("/api/v1/me")).status_code == 401


async def test_one_person_in_two_companies_switches_between_them(harness: Harness) -> None:
    first = await harness.sign_up(company="Padaria")
    second = await harness.sign_up(company="Oficina")
    invite = expect(
        await first.browser.post(
            "/api/v1/company/invitations", json={"email": second.email, "role": "viewer"}
        ),
        201,
    )
    assert invite["role"] == "viewer"
    token = await emailed_token(harness.bootstrap, template="invitation", email=second.email)
    # someone else cannot use an invitation meant for another address
    stranger = await harness.sign_up(company="Outra")
    misuse = await stranger.browser.post("/api/v1/me/invitations/accept", json={"token": token})
    assert misuse.status_code == 403 and misuse.json()["code"] == "invitation_other_email"

    joined = expect(
        await second.browser.post("/api/v1/me/invitations/accept", json={"token": token}), 200
    )
    assert joined["company_id"] == str(first.company_id)  # the new company is now active
    me = expect(await second.browser.get("/api/v1/me"), 200)
    assert {c["name"]: c["role"] for c in me["companies"]} == {
        "Padaria": "viewer",
        "Oficina": "owner",
    }
    assert me["role"] == "viewer" and "members:manage" not in me["permissions"]
    assert (await second.browser.get("/api/v1/company/members")).status_code == 403

    before = second.browser.session_id
    switched = expect(
        await second.browser.put("/api/v1/me/company", json={"company_id": str(second.company_id)}),
        200,
    )
    assert switched["company_id"] == str(second.company_id)
    assert second.browser.session_id != before  # a new id on every change of privileges
    assert expect(await second.browser.get("/api/v1/company"), 200)["name"] == "Oficina"
    assert (await second.browser.get("/api/v1/company/members")).status_code == 200

    not_mine = await second.browser.put(
        "/api/v1/me/company", json={"company_id": str(stranger.company_id)}
    )
    assert not_mine.status_code == 404


async def test_the_last_owner_stays_and_only_owners_touch_owners(harness: Harness) -> None:
    owner = await harness.sign_up()
    admin = await harness.invite(owner, CompanyRole.ADMIN)
    demote = await owner.browser.put(
        f"/api/v1/company/members/{owner.user_id}/role", json={"role": "admin"}
    )
    assert demote.status_code == 409 and demote.json()["code"] == "last_owner"
    leave = await owner.browser.delete(f"/api/v1/company/members/{owner.user_id}")
    assert leave.status_code == 409
    coup = await admin.browser.put(
        f"/api/v1/company/members/{owner.user_id}/role", json={"role": "viewer"}
    )
    assert coup.status_code == 403 and coup.json()["code"] == "owner_only"
    self_promotion = await admin.browser.put(
        f"/api/v1/company/members/{admin.user_id}/role", json={"role": "owner"}
    )
    assert self_promotion.status_code == 403
    owner_invite = await admin.browser.post(
        "/api/v1/company/invitations", json={"email": unique_email(), "role": "owner"}
    )
    assert owner_invite.status_code == 403
    # an owner may hand over: promote the admin, then step down
    expect(
        await owner.browser.put(
            f"/api/v1/company/members/{admin.user_id}/role", json={"role": "owner"}
        ),
        200,
    )
    expect(
        await owner.browser.put(
            f"/api/v1/company/members/{owner.user_id}/role", json={"role": "viewer"}
        ),
        200,
    )
    assert expect(await owner.browser.get("/api/v1/me"), 200)["role"] == "viewer"
    removed = await admin.browser.delete(f"/api/v1/company/members/{owner.user_id}")
    assert removed.status_code == 200
    assert expect(await owner.browser.get("/api/v1/me"), 200)["company_id"] is None
    assert (await owner.browser.get("/api/v1/company")).status_code == 403


async def test_the_demo_owner_can_sign_in_at_once(make_harness: HarnessFactory) -> None:
    harness = await make_harness(HOSPEDA_DEMO=True)
    browser = harness.browser()
    answer = await browser.post(
        "/api/v1/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    assert expect(await browser.get("/api/v1/me"), 200)["role"] == "owner"


async def test_sign_up_does_not_reveal_who_has_an_account(harness: Harness) -> None:
    """Signing up with a registered address answers exactly like a new one; the
    owner of the address is told by e-mail, and nothing is created."""
    owner = await harness.sign_up(login=False)
    stranger = harness.browser()
    attempt = {
        "company_name": "Concorrente Ltda",
        "name": "Alguém",
        "password": "outra-senha-bem-comprida",
    }
    fresh = await stranger.post(
        "/api/v1/auth/signup", json={**attempt, "email": unique_email("novo")}
    )
    taken = await stranger.post("/api/v1/auth/signup", json={**attempt, "email": owner.email})
    assert (
        (taken.status_code, taken.json())
        == (fresh.status_code, fresh.json())
        == (
            202,
            {"status": "check_your_email"},
        )
    )

    warning = await emailed(
        harness.bootstrap, template="signup-existing-account", email=owner.email
    )
    assert warning.recipient.user_id == owner.user_id
    assert str(warning.data["reset_link"]).endswith("/conta/esqueci-a-senha")
    assert "token" not in warning.data["reset_link"]  # a link anyone could see grants nothing

    # nothing was created or changed: the owner's password still works, in one company
    await harness.login(owner)
    me = expect(await owner.browser.get("/api/v1/me"), 200)
    assert [c["name"] for c in me["companies"]] == ["Padaria Pão Quente"]
    intruder = await stranger.post(
        "/api/v1/auth/login", json={"email": owner.email, "password": attempt["password"]}
    )
    assert intruder.status_code == 401
