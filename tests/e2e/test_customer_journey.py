"""A customer's whole journey through the real platform, every service in its
own process and every outside system simulated over the wire:

sign up → confirm the e-mail (a real e-mail through notify and SMTP) → log in
→ order a plan with an add-on → pay the invoice by card (Stripe simulator,
signed webhook) → the account is created on a WHM server and the add-on
enabled (WHM simulator) → the DNS zone and records exist at Cloudflare
(simulator) → the e-mails a customer expects arrive → the audit trail has it all,
holds no live link, token or secret, and verifies.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

import httpx
import pytest
import sqlalchemy as sa
from gateway_kit import Browser, expect
from sqlalchemy.ext.asyncio import create_async_engine

from hospeda.audit import cli as audit_cli
from hospeda.audit.config import AuditSettings
from hospeda.devstack.stack import Stack
from hospeda.runtime.db import async_url

pytestmark = pytest.mark.e2e

PASSWORD = "uma senha longa o bastante"


@pytest.fixture
def platform_env() -> dict[str, str]:
    return {"HOSPEDA_DEMO": "1"}  # the demo catalog, as `make run` has it


async def until(check: Callable[[], Awaitable[Any]], what: str, *, timeout: float = 90) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while True:
        last = await check()
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


class Mailbox:
    """The local mail server's reader (what notify delivered over SMTP)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    async def messages(self, to: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient() as client:
            every = (await client.get(f"{self.base_url}/messages")).json()
        return [m for m in every if to in (m["to"] or "")]

    async def wait_for(self, to: str, subject: str) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            return next((m for m in await self.messages(to) if subject in m["subject"]), None)

        return await until(found, f"an e-mail to {to} about {subject!r}")


def mail_link(mail: dict[str, Any]) -> str:
    match = re.search(r"https?://\S+", mail["body"])
    assert match, mail["body"]
    return match.group(0)


async def test_a_customer_signs_up_orders_pays_and_gets_a_working_site(platform: Stack) -> None:
    base = f"http://127.0.0.1:{platform.gateway_port}"
    mailbox = Mailbox(
        next(url for name, url in platform.links.items() if "e-mail" in name).replace(
            "localhost", "127.0.0.1"
        )
    )
    email = f"dona-{uuid4().hex[:8]}@padaria.com.br"
    domain = f"padaria-{uuid4().hex[:6]}.com.br"
    browser = Browser(base)
    try:
        # sign up, confirm the e-mail from the link that was really e-mailed, log in
        expect(
            await browser.post(
                "/api/v1/auth/signup",
                json={
                    "company_name": "Padaria Pão Quente",
                    "name": "Maria Souza",
                    "email": email,
                    "password": PASSWORD,
                },
            ),
            202,
        )
        confirmation = await mailbox.wait_for(email, "Confirme seu e-mail")
        token = re.search(r"token=([A-Za-z0-9_\-]+)", mail_link(confirmation))
        assert token, confirmation["body"]
        expect(await browser.post("/api/v1/auth/verify-email", json={"token": token.group(1)}), 200)
        expect(
            await browser.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}),
            200,
        )

        # the demo catalog, through billing
        async def catalog() -> list[dict[str, Any]]:
            response = await browser.get("/api/v1/catalog")
            return response.json()["items"] if response.status_code == 200 else []

        codes = {item["code"] for item in await until(catalog, "the demo catalog")}
        assert {"profissional", "backup-pro"} <= codes

        # order a plan with an add-on; an invoice comes out
        ordered = expect(
            await browser.post(
                "/api/v1/orders",
                json={
                    "plan_code": "profissional",
                    "domain": domain,
                    "cycle": "monthly",
                    "addons": [{"code": "backup-pro"}],
                },
                headers={"Idempotency-Key": str(uuid4())},
            ),
            202,
        )
        assert ordered["operation_id"]

        async def open_invoice() -> dict[str, Any] | None:
            items = (await browser.get("/api/v1/invoices")).json().get("items", [])
            return next((i for i in items if i["status"] == "open"), None)

        invoice = await until(open_invoice, "the order's invoice")
        assert invoice["total"]["amount"] > 0
        assert invoice["total"]["currency"] == "BRL"

        # pay by card; Stripe's signed webhook settles it
        expect(
            await browser.post(
                f"/api/v1/invoices/{invoice['id']}/pay",
                json={"method": "card", "payment_method_ref": "pm_card_visa"},
                headers={"Idempotency-Key": str(uuid4())},
            ),
            202,
        )

        async def paid() -> bool:
            return (await browser.get(f"/api/v1/invoices/{invoice['id']}")).json().get(
                "status"
            ) == "paid"

        await until(paid, "the invoice to be paid")

        # the hosting account is created on a WHM server, with its add-on
        async def active_service() -> dict[str, Any] | None:
            items = (await browser.get("/api/v1/services")).json().get("items", [])
            return next(
                (s for s in items if s.get("domain") == domain and s.get("state") == "active"), None
            )

        service = await until(active_service, "the account to be active", timeout=120)
        detail = expect(await browser.get(f"/api/v1/services/{service['service_id']}"), 200)
        assert detail["server"]
        assert detail["username"]

        async def backup_enabled() -> bool:
            got = (await browser.get(f"/api/v1/services/{service['service_id']}")).json()
            return any(
                a.get("code") == "backup-pro" and a.get("state") == "active"
                for a in got.get("addons", [])
            )

        await until(backup_enabled, "Backup Pro to be enabled")

        # the DNS zone exists at Cloudflare with records pointing at the server
        async def zone() -> dict[str, Any] | None:
            response = await browser.get(f"/api/v1/zones/{domain}")
            got = response.json() if response.status_code == 200 else {}
            return got if got.get("status") == "active" and got.get("records") else None

        got_zone = await until(zone, "the DNS zone with its records")
        assert got_zone["nameservers"]
        apex = [r for r in got_zone["records"] if r["type"] == "A" and r["name"] in ("@", domain)]
        assert apex, got_zone["records"]
        assert apex[0]["content"] == detail["ip"]  # pointing at the account's server

        # the e-mails a customer expects
        await mailbox.wait_for(email, "Pagamento recebido")
        await mailbox.wait_for(email, domain)  # service active / DNS instructions name the domain

        # and the company's audit trail shows the journey
        async def trail() -> list[str]:
            actions: list[str] = []
            cursor: str | None = None
            while True:
                params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                response = await browser.get("/api/v1/audit", params=params)
                if response.status_code != 200:
                    return actions
                page = response.json()
                actions += [entry["action"] for entry in page["items"]]
                cursor = page.get("next_cursor")
                if not cursor:
                    return actions

        async def journey_recorded() -> list[str] | None:
            actions = await trail()
            wanted = {
                "billing.order.placed",
                "billing.invoice.paid",
                "provisioning.service.activated",
            }
            return actions if wanted <= set(actions) else None

        actions = await until(journey_recorded, "the journey in the audit trail")
        assert "dns.zone.created" in actions
        assert "company.signed_up" in actions
        assert "audit.read" in actions  # reading the trail is in the trail

        # nothing live or secret is kept in the audit store, and it verifies
        stored = await audit_store_text(platform)
        assert "billing.invoice.paid" in stored  # the scan reads the real table
        for secret in (token.group(1), PASSWORD, email, "Maria Souza"):
            assert secret not in stored, f"{secret[:12]}… is in the audit store"
        for pattern in (r"cpsess\d", r"[?&#](token|session)=(?!\[redacted\])", r"sk_(live|test)_"):
            assert not re.search(pattern, stored), pattern
        code, report = await audit_verify(platform)
        assert code == 0, report
    finally:
        await browser.aclose()


async def audit_store_text(platform: Stack) -> str:
    """Every row of every table of the audit service's database, as text."""
    url = async_url(platform.database_urls["audit"])  # type: ignore[index]
    engine = create_async_engine(url)
    chunks: list[str] = []
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: sa.inspect(c).get_table_names())
            for table in tables:
                rows = await connection.execute(sa.text(f'SELECT * FROM "{table}"'))
                chunks += [json.dumps(list(row), default=str, ensure_ascii=False) for row in rows]
    finally:
        await engine.dispose()
    return "\n".join(chunks)


async def audit_verify(platform: Stack) -> tuple[int, str]:
    """``python -m hospeda.audit verify`` on the platform's audit database."""
    settings = AuditSettings(
        DATABASE_URL=platform.database_urls["audit"],  # type: ignore[index]
        HOSPEDA_DATA_DIR=str(platform.data_dir / "data"),  # where its local keys were made
        HOSPEDA_ENV="test",
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = await audit_cli.run(["verify"], settings)
    return code, out.getvalue()
