"""Every route × every role: allowed or denied, exactly as written below.

The expectations here are written out by hand, independently of
``permissions.MATRIX``: a change to the matrix that is not also a deliberate
change here fails. A route missing from the table fails too.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
from fastapi.routing import iter_route_contexts
from gateway_kit import STAFF_ROLES, Harness, Person, expect

from hospeda.contracts.identity import CompanyRole
from hospeda.gateway.api import ApiRoute

OWNER, ADMIN, BILLING, TECHNICAL, VIEWER = "owner", "admin", "billing", "technical", "viewer"
SA, SU, SB, SO, AU = (
    "staff:superadmin",
    "staff:support",
    "staff:billing",
    "staff:operator",
    "staff:auditor",
)
ANON = "anonymous"
CUSTOMERS = {OWNER, ADMIN, BILLING, TECHNICAL, VIEWER}
STAFF = {SA, SU, SB, SO, AU}
SIGNED_IN = CUSTOMERS | STAFF
EVERYONE = SIGNED_IN | {ANON}
NOBODY: set[str] = set()

EXPECTED: dict[tuple[str, str], set[str]] = {
    # pages and public account routes
    ("GET", "/"): EVERYONE,
    ("GET", "/healthz"): EVERYONE,
    ("GET", "/conta/{action}"): EVERYONE,
    ("GET", "/app/pagamento/retorno"): EVERYONE,
    ("POST", "/api/v1/auth/signup"): EVERYONE,
    ("POST", "/api/v1/auth/signup/invited"): EVERYONE,
    ("POST", "/api/v1/auth/verify-email"): EVERYONE,
    ("POST", "/api/v1/auth/verify-email/resend"): EVERYONE,
    ("POST", "/api/v1/auth/login"): EVERYONE,
    ("POST", "/api/v1/auth/password/forgot"): EVERYONE,
    ("POST", "/api/v1/auth/password/reset"): EVERYONE,
    ("POST", "/api/v1/ops/probes"): EVERYONE,
    ("GET", "/api/v1/ops/probes/{probe_id}"): EVERYONE,
    # only a session waiting for its 2FA code (nobody here has one)
    ("POST", "/api/v1/auth/login/2fa"): NOBODY,
    # one's own account
    ("GET", "/api/v1/auth/session"): SIGNED_IN,
    ("POST", "/api/v1/auth/logout"): SIGNED_IN,
    ("POST", "/api/v1/auth/logout-everywhere"): SIGNED_IN,
    ("POST", "/api/v1/auth/password/change"): SIGNED_IN,
    ("POST", "/api/v1/auth/2fa/setup"): SIGNED_IN,
    ("POST", "/api/v1/auth/2fa/enable"): SIGNED_IN,
    ("POST", "/api/v1/auth/2fa/disable"): SIGNED_IN,
    ("POST", "/api/v1/auth/2fa/recovery-codes"): SIGNED_IN,
    ("GET", "/api/v1/me"): SIGNED_IN,
    ("PUT", "/api/v1/me/company"): SIGNED_IN,
    ("POST", "/api/v1/me/invitations/accept"): SIGNED_IN,
    # the company
    ("GET", "/api/v1/company"): SIGNED_IN,
    ("PATCH", "/api/v1/company"): {OWNER, ADMIN, SA, SU},
    ("GET", "/api/v1/company/members"): {OWNER, ADMIN, SA, SU, AU},
    ("PUT", "/api/v1/company/members/{user_id}/role"): {OWNER, ADMIN, SA},
    ("DELETE", "/api/v1/company/members/{user_id}"): {OWNER, ADMIN, SA},
    ("GET", "/api/v1/company/invitations"): {OWNER, ADMIN, SA, SU, AU},
    ("POST", "/api/v1/company/invitations"): {OWNER, ADMIN, SA},
    ("DELETE", "/api/v1/company/invitations/{invitation_id}"): {OWNER, ADMIN, SA},
    ("GET", "/api/v1/company/tokens"): {OWNER, ADMIN, SA, SU, AU},
    ("POST", "/api/v1/company/tokens"): {OWNER, ADMIN, SA},
    ("DELETE", "/api/v1/company/tokens/{token_id}"): {OWNER, ADMIN, SA},
    # billing
    ("GET", "/api/v1/catalog"): SIGNED_IN,
    ("POST", "/api/v1/orders"): {OWNER, ADMIN, BILLING, SA},
    ("GET", "/api/v1/orders/{order_id}"): {OWNER, ADMIN, BILLING, VIEWER, SA, SU, SB, AU},
    ("GET", "/api/v1/invoices"): {OWNER, ADMIN, BILLING, VIEWER, SA, SU, SB, AU},
    ("GET", "/api/v1/invoices/{invoice_id}"): {OWNER, ADMIN, BILLING, VIEWER, SA, SU, SB, AU},
    ("POST", "/api/v1/invoices/{invoice_id}/pay"): {OWNER, ADMIN, BILLING, SA},
    ("POST", "/api/v1/invoices/{invoice_id}/confirm-payment"): {OWNER, ADMIN, BILLING, SA},
    ("POST", "/api/v1/invoices/{invoice_id}/refund"): {SA, SB},
    ("POST", "/api/v1/invoices/{invoice_id}/void"): {SA, SB},
    ("GET", "/api/v1/subscriptions"): SIGNED_IN,
    ("GET", "/api/v1/subscriptions/{subscription_id}"): SIGNED_IN,
    ("POST", "/api/v1/subscriptions/{subscription_id}/change"): {OWNER, ADMIN, BILLING, SA, SB},
    ("POST", "/api/v1/subscriptions/{subscription_id}/cancel"): {OWNER, ADMIN, BILLING, SA, SB},
    ("POST", "/api/v1/subscriptions/{subscription_id}/addons"): {OWNER, ADMIN, BILLING, SA, SB},
    # provisioning
    ("GET", "/api/v1/services"): SIGNED_IN,
    ("GET", "/api/v1/services/{service_id}"): SIGNED_IN,
    ("GET", "/api/v1/jobs"): {OWNER, ADMIN, TECHNICAL, VIEWER, SA, SU, SO, AU},
    ("GET", "/api/v1/jobs/{job_id}"): {OWNER, ADMIN, TECHNICAL, VIEWER, SA, SU, SO, AU},
    ("POST", "/api/v1/jobs/{job_id}/retry"): {SA, SO},
    ("POST", "/api/v1/jobs/{job_id}/cancel"): {SA, SO},
    # dns
    ("GET", "/api/v1/zones"): {OWNER, ADMIN, TECHNICAL, VIEWER, SA, SU, SO, AU},
    ("GET", "/api/v1/zones/{domain}"): {OWNER, ADMIN, TECHNICAL, VIEWER, SA, SU, SO, AU},
    ("POST", "/api/v1/zones/{domain}/records"): {OWNER, ADMIN, TECHNICAL, SA, SO},
    ("POST", "/api/v1/zones/{domain}/check"): {OWNER, ADMIN, TECHNICAL, SA, SO},
    ("PUT", "/api/v1/zones/{domain}/records/{record_id}"): {OWNER, ADMIN, TECHNICAL, SA, SO},
    ("DELETE", "/api/v1/zones/{domain}/records/{record_id}"): {OWNER, ADMIN, TECHNICAL, SA, SO},
    # audit trail and live events
    ("GET", "/api/v1/audit"): {OWNER, ADMIN, AU},
    ("GET", "/api/v1/audit/export"): {OWNER, ADMIN, AU},
    ("GET", "/api/v1/events"): SIGNED_IN,
    ("GET", "/api/v1/operations/{operation_id}"): SIGNED_IN,
    # staff
    ("GET", "/api/v1/staff/companies"): STAFF,
    ("POST", "/api/v1/staff/acting"): STAFF,
    ("DELETE", "/api/v1/staff/acting"): STAFF,
    ("PUT", "/api/v1/staff/users/{user_id}/role"): {SA},
    ("GET", "/api/v1/staff/jobs"): {SA, SU, SO, AU},
    # notifications: one's own inbox, settings and devices; e-mail links; staff previews
    ("GET", "/api/v1/notifications"): SIGNED_IN,
    ("PATCH", "/api/v1/notifications/{item_id}"): SIGNED_IN,
    ("POST", "/api/v1/notifications/read-all"): SIGNED_IN,
    ("GET", "/api/v1/me/notification-settings"): SIGNED_IN,
    ("PUT", "/api/v1/me/notification-settings"): SIGNED_IN,
    ("GET", "/api/v1/push/config"): SIGNED_IN,
    ("GET", "/api/v1/push/subscriptions"): SIGNED_IN,
    ("POST", "/api/v1/push/subscriptions"): SIGNED_IN,
    ("DELETE", "/api/v1/push/subscriptions/{subscription_id}"): SIGNED_IN,
    ("GET", "/api/v1/notifications/unsubscribe"): EVERYONE,
    ("POST", "/api/v1/notifications/unsubscribe"): EVERYONE,
    ("GET", "/api/v1/staff/notification-templates"): STAFF,
    ("GET", "/api/v1/staff/notification-templates/{template}"): STAFF,
}

# run last, in this order: they end or change the caller's session
FINAL = [
    ("DELETE", "/api/v1/staff/acting"),
    ("PUT", "/api/v1/me/company"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/logout-everywhere"),
]

PUSH_SUBSCRIPTION = {
    "endpoint": "http://127.0.0.1:9/push/teste",
    "keys": {"p256dh": "B" + "A" * 86, "auth": "QUFBQUFBQUFBQUFBQUFBQQ"},
}

DENIALS = {(401, "not_authenticated"), (403, "forbidden"), (403, "token_not_allowed")}


def requests_for(ids: dict[str, str]) -> dict[tuple[str, str], tuple[str, Any]]:
    """A request for each route: harmless where it would change something
    (unknown ids, wrong passwords), so every principal can walk all of them."""
    unknown = str(uuid4())
    order = {"plan_code": "hospedagem-pro", "domain": "paoquente.com.br", "cycle": "monthly"}
    record = {"record": {"type": "A", "name": "loja", "content": "203.0.113.10"}}
    inv, sub, job, zone = ids["invoice"], ids["subscription"], ids["job"], ids["zone"]
    return {
        ("GET", "/"): ("/", None),
        ("GET", "/healthz"): ("/healthz", None),
        ("GET", "/conta/{action}"): ("/conta/redefinir-senha?token=x", None),
        ("GET", "/app/pagamento/retorno"): ("/app/pagamento/retorno?invoice=x", None),
        ("POST", "/api/v1/auth/signup"): (
            "/api/v1/auth/signup",
            {
                "company_name": "Nova",
                "name": "N",
                "email": f"{uuid4().hex}@exemplo.com.br",
                "password": "uma-senha-bem-comprida",
            },
        ),
        ("POST", "/api/v1/auth/signup/invited"): (
            "/api/v1/auth/signup/invited",
            {"token": "invalido", "name": "N", "password": "uma-senha-bem-comprida"},
        ),
        ("POST", "/api/v1/auth/verify-email"): ("/api/v1/auth/verify-email", {"token": "x"}),
        ("POST", "/api/v1/auth/verify-email/resend"): (
            "/api/v1/auth/verify-email/resend",
            {"email": "ninguem@exemplo.com.br"},
        ),
        ("POST", "/api/v1/auth/login"): (
            "/api/v1/auth/login",
            {"email": "ninguem@exemplo.com.br", "password": "x"},
        ),
        ("POST", "/api/v1/auth/password/forgot"): (
            "/api/v1/auth/password/forgot",
            {"email": "ninguem@exemplo.com.br"},
        ),
        ("POST", "/api/v1/auth/password/reset"): (
            "/api/v1/auth/password/reset",
            {"token": "x", "password": "uma-senha-bem-comprida"},
        ),
        ("POST", "/api/v1/ops/probes"): ("/api/v1/ops/probes", None),
        ("GET", "/api/v1/ops/probes/{probe_id}"): (f"/api/v1/ops/probes/{unknown}", None),
        ("POST", "/api/v1/auth/login/2fa"): ("/api/v1/auth/login/2fa", {"code": "000000"}),
        ("GET", "/api/v1/auth/session"): ("/api/v1/auth/session", None),
        ("POST", "/api/v1/auth/logout"): ("/api/v1/auth/logout", None),
        ("POST", "/api/v1/auth/logout-everywhere"): ("/api/v1/auth/logout-everywhere", None),
        ("POST", "/api/v1/auth/password/change"): (
            "/api/v1/auth/password/change",
            {"current_password": "errada", "new_password": "uma-senha-bem-comprida"},
        ),
        ("POST", "/api/v1/auth/2fa/setup"): ("/api/v1/auth/2fa/setup", None),
        ("POST", "/api/v1/auth/2fa/enable"): ("/api/v1/auth/2fa/enable", {"code": "000000"}),
        ("POST", "/api/v1/auth/2fa/disable"): (
            "/api/v1/auth/2fa/disable",
            {"password": "errada", "code": "000000"},
        ),
        ("POST", "/api/v1/auth/2fa/recovery-codes"): (
            "/api/v1/auth/2fa/recovery-codes",
            {"code": "000000"},
        ),
        ("GET", "/api/v1/me"): ("/api/v1/me", None),
        ("PUT", "/api/v1/me/company"): ("/api/v1/me/company", {"company_id": ids["company"]}),
        ("POST", "/api/v1/me/invitations/accept"): (
            "/api/v1/me/invitations/accept",
            {"token": "x"},
        ),
        ("GET", "/api/v1/company"): ("/api/v1/company", None),
        ("PATCH", "/api/v1/company"): ("/api/v1/company", {"name": "Padaria Pão Quente"}),
        ("GET", "/api/v1/company/members"): ("/api/v1/company/members", None),
        ("PUT", "/api/v1/company/members/{user_id}/role"): (
            f"/api/v1/company/members/{unknown}/role",
            {"role": "viewer"},
        ),
        ("DELETE", "/api/v1/company/members/{user_id}"): (
            f"/api/v1/company/members/{unknown}",
            None,
        ),
        ("GET", "/api/v1/company/invitations"): ("/api/v1/company/invitations", None),
        ("POST", "/api/v1/company/invitations"): (
            "/api/v1/company/invitations",
            {"email": f"{uuid4().hex}@exemplo.com.br", "role": "viewer"},
        ),
        ("DELETE", "/api/v1/company/invitations/{invitation_id}"): (
            f"/api/v1/company/invitations/{unknown}",
            None,
        ),
        ("GET", "/api/v1/company/tokens"): ("/api/v1/company/tokens", None),
        ("POST", "/api/v1/company/tokens"): (
            "/api/v1/company/tokens",
            {"name": "t", "permissions": ["company:read"]},
        ),
        ("DELETE", "/api/v1/company/tokens/{token_id}"): (
            f"/api/v1/company/tokens/{unknown}",
            None,
        ),
        ("GET", "/api/v1/catalog"): ("/api/v1/catalog", None),
        ("POST", "/api/v1/orders"): ("/api/v1/orders", order),
        ("GET", "/api/v1/orders/{order_id}"): (f"/api/v1/orders/{ids['order']}", None),
        ("GET", "/api/v1/invoices"): ("/api/v1/invoices", None),
        ("GET", "/api/v1/invoices/{invoice_id}"): (f"/api/v1/invoices/{inv}", None),
        ("POST", "/api/v1/invoices/{invoice_id}/pay"): (
            f"/api/v1/invoices/{inv}/pay",
            {"method": "pix"},
        ),
        ("POST", "/api/v1/invoices/{invoice_id}/confirm-payment"): (
            f"/api/v1/invoices/{inv}/confirm-payment",
            {"payment_intent_id": "pi_123456"},
        ),
        ("POST", "/api/v1/invoices/{invoice_id}/refund"): (
            f"/api/v1/invoices/{inv}/refund",
            {"reason": "teste"},
        ),
        ("POST", "/api/v1/invoices/{invoice_id}/void"): (
            f"/api/v1/invoices/{inv}/void",
            {"reason": "teste"},
        ),
        ("GET", "/api/v1/subscriptions"): ("/api/v1/subscriptions", None),
        ("GET", "/api/v1/subscriptions/{subscription_id}"): (
            f"/api/v1/subscriptions/{sub}",
            None,
        ),
        ("POST", "/api/v1/subscriptions/{subscription_id}/change"): (
            f"/api/v1/subscriptions/{sub}/change",
            {"to_code": "hospedagem-business"},
        ),
        ("POST", "/api/v1/subscriptions/{subscription_id}/cancel"): (
            f"/api/v1/subscriptions/{sub}/cancel",
            {},
        ),
        ("POST", "/api/v1/subscriptions/{subscription_id}/addons"): (
            f"/api/v1/subscriptions/{sub}/addons",
            {"addon_code": "backup-pro"},
        ),
        ("GET", "/api/v1/services"): ("/api/v1/services", None),
        ("GET", "/api/v1/services/{service_id}"): (f"/api/v1/services/{ids['service']}", None),
        ("GET", "/api/v1/jobs"): ("/api/v1/jobs", None),
        ("GET", "/api/v1/jobs/{job_id}"): (f"/api/v1/jobs/{job}", None),
        ("POST", "/api/v1/jobs/{job_id}/retry"): (f"/api/v1/jobs/{job}/retry", None),
        ("POST", "/api/v1/jobs/{job_id}/cancel"): (f"/api/v1/jobs/{job}/cancel", {}),
        ("GET", "/api/v1/zones"): ("/api/v1/zones", None),
        ("GET", "/api/v1/zones/{domain}"): (f"/api/v1/zones/{zone}", None),
        ("POST", "/api/v1/zones/{domain}/records"): (f"/api/v1/zones/{zone}/records", record),
        ("POST", "/api/v1/zones/{domain}/check"): (f"/api/v1/zones/{zone}/check", None),
        ("PUT", "/api/v1/zones/{domain}/records/{record_id}"): (
            f"/api/v1/zones/{zone}/records/rec1",
            record,
        ),
        ("DELETE", "/api/v1/zones/{domain}/records/{record_id}"): (
            f"/api/v1/zones/{zone}/records/rec1",
            None,
        ),
        ("GET", "/api/v1/audit"): ("/api/v1/audit", None),
        ("GET", "/api/v1/audit/export"): ("/api/v1/audit/export?format=csv", None),
        ("GET", "/api/v1/events"): ("/api/v1/events", None),
        ("GET", "/api/v1/operations/{operation_id}"): (f"/api/v1/operations/{unknown}", None),
        ("GET", "/api/v1/staff/companies"): ("/api/v1/staff/companies", None),
        ("POST", "/api/v1/staff/acting"): (
            "/api/v1/staff/acting",
            {"company_id": ids["company"], "reason": "Chamado #1"},
        ),
        ("DELETE", "/api/v1/staff/acting"): ("/api/v1/staff/acting", None),
        ("PUT", "/api/v1/staff/users/{user_id}/role"): (
            f"/api/v1/staff/users/{unknown}/role",
            {"role": "auditor"},
        ),
        ("GET", "/api/v1/staff/jobs"): ("/api/v1/staff/jobs", None),
        ("GET", "/api/v1/notifications"): ("/api/v1/notifications?state=unread", None),
        ("PATCH", "/api/v1/notifications/{item_id}"): (
            f"/api/v1/notifications/{unknown}",
            {"read": True},
        ),
        ("POST", "/api/v1/notifications/read-all"): ("/api/v1/notifications/read-all", None),
        ("GET", "/api/v1/me/notification-settings"): ("/api/v1/me/notification-settings", None),
        ("PUT", "/api/v1/me/notification-settings"): (
            "/api/v1/me/notification-settings",
            {"preferences": [{"category": "marketing", "channel": "email", "enabled": False}]},
        ),
        ("GET", "/api/v1/push/config"): ("/api/v1/push/config", None),
        ("GET", "/api/v1/push/subscriptions"): ("/api/v1/push/subscriptions", None),
        ("POST", "/api/v1/push/subscriptions"): ("/api/v1/push/subscriptions", PUSH_SUBSCRIPTION),
        ("DELETE", "/api/v1/push/subscriptions/{subscription_id}"): (
            f"/api/v1/push/subscriptions/{unknown}",
            None,
        ),
        ("GET", "/api/v1/notifications/unsubscribe"): (
            "/api/v1/notifications/unsubscribe?token=um-token-qualquer",
            None,
        ),
        ("POST", "/api/v1/notifications/unsubscribe"): (
            "/api/v1/notifications/unsubscribe?token=um-token-qualquer",
            None,
        ),
        ("GET", "/api/v1/staff/notification-templates"): (
            "/api/v1/staff/notification-templates",
            None,
        ),
        ("GET", "/api/v1/staff/notification-templates/{template}"): (
            "/api/v1/staff/notification-templates/invoice-issued",
            None,
        ),
    }


async def call(
    person: Person | None, harness: Harness, method: str, url: str, body: Any
) -> httpx.Response:
    browser = person.browser if person else harness.browser()
    if url == "/api/v1/events":
        return await browser.open_stream(url)
    return await browser.request(method, url, json=body)


def denied(response: httpx.Response) -> bool:
    if response.status_code not in (401, 403):
        return False
    return (response.status_code, response.json().get("code")) in DENIALS


async def test_every_route_for_every_role(harness: Harness) -> None:
    owner = await harness.sign_up(company="Padaria Pão Quente")
    assert owner.company_id is not None
    company = owner.company_id
    people: dict[str, Person | None] = {OWNER: owner, ANON: None}
    for role in (CompanyRole.ADMIN, CompanyRole.BILLING, CompanyRole.TECHNICAL, CompanyRole.VIEWER):
        people[role.value] = await harness.invite(owner, role)
    for staff_role in STAFF_ROLES:
        staff = await harness.staff(staff_role)
        await harness.act_on(staff, company)
        people[f"staff:{staff_role.value}"] = staff
    ids = {
        "company": str(company),
        "invoice": str(uuid4()),
        "subscription": str(uuid4()),
        "order": str(uuid4()),
        "service": str(uuid4()),
        "job": str(uuid4()),
        "zone": "paoquente.com.br",
    }
    peers = harness.peers
    peers.add("invoices", company, invoice_id=ids["invoice"], status="open")
    peers.add("subscriptions", company, subscription_id=ids["subscription"], status="active")
    peers.add("orders", company, order_id=ids["order"])
    peers.add("services", company, service_id=ids["service"])
    peers.add("jobs", company, job_id=ids["job"], state="failed")
    peers.add("zones", company, domain=ids["zone"])

    routes = {
        (method, str(context.path))
        for context in iter_route_contexts(harness.server.app.routes)
        if isinstance(context.original_route, ApiRoute)
        for method in context.methods or ()
    }
    assert routes == set(EXPECTED), (
        f"routes without an expectation: {sorted(routes - set(EXPECTED))}; "
        f"expectations without a route: {sorted(set(EXPECTED) - routes)}"
    )
    requests = requests_for(ids)
    order = [r for r in sorted(EXPECTED) if r not in FINAL] + FINAL
    mismatches = []
    for method, path in order:
        url, body = requests[(method, path)]
        for role, person in people.items():
            if (method, path) == ("POST", "/api/v1/auth/logout-everywhere") and person:
                await harness.login(person)  # signed out by the previous route: sign in again
            response = await call(person, harness, method, url, body)
            assert response.status_code < 500, (method, path, role, response.text)
            allowed = role in EXPECTED[(method, path)]
            if denied(response) == allowed:
                mismatches.append(
                    f"{method} {path} as {role}: {response.status_code} {response.text[:120]}"
                )
    assert not mismatches, "\n".join(mismatches)
    assert harness.server.gateway.unaudited == [], "state changes without an audit record"


async def test_staff_permissions_need_2fa(harness: Harness) -> None:
    person = await harness.sign_up()
    await harness.make_staff(person, STAFF_ROLES[0])
    refused = await person.browser.get("/api/v1/staff/companies")
    assert refused.status_code == 403 and refused.json()["code"] == "staff_2fa_required"
    me = expect(await person.browser.get("/api/v1/me"), 200)
    assert me["staff_needs_2fa"] is True and me["staff_role"] is None
    await harness.enable_2fa(person)
    expect(await person.browser.get("/api/v1/staff/companies"), 200)
