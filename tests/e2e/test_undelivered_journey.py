"""The worst day of a hosting customer, in a real browser against the whole
platform: they pay by card, WHM refuses to create the account for good, and
nobody may leave them in silence. Provisioning gives up and tells them;
billing stops the subscription (nothing renews or duns it) and the service page
says so, offering the money back; they cancel, see what comes back before
confirming, and the Stripe simulator refunds it; the e-mail says so."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from playwright.async_api import Page, expect
from test_customer_journey import Mailbox
from test_operator_cli import simulators
from test_web_journey import LIVE, cents

from hospeda.devstack.servers import free_port
from hospeda.devstack.stack import Stack
from hospeda.devstack.testing import screenshot
from hospeda.gateway.demo import DEMO_EMAIL, DEMO_PASSWORD

pytestmark = pytest.mark.e2e


@pytest.fixture
def platform_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("BILLING_WEBHOOK_PORT", str(free_port()))
    return {
        "HOSPEDA_DEMO": "1",
        # give up for good after two quick attempts, not five over a minute
        "PROVISIONING_RETRY_ATTEMPTS": "2",
        "PROVISIONING_RETRY_BASE_DELAY_S": "0.1",
    }


async def test_a_paid_service_that_cannot_be_created_is_refunded_and_said_so(
    platform: Stack, chromium: Any
) -> None:
    for sim in simulators(platform):
        await sim.fault("createacct", "error", times=1000, status=500)  # WHM is down for good
    mailbox = Mailbox(
        next(url for name, url in platform.links.items() if "e-mail" in name).replace(
            "localhost", "127.0.0.1"
        )
    )
    domain = f"azarada-{uuid4().hex[:6]}.com.br"
    context = await chromium.new_context(
        base_url=f"http://127.0.0.1:{platform.gateway_port}",
        locale="pt-BR",
        viewport={"width": 390, "height": 844},
    )
    page: Page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        await page.goto("/entrar")
        await page.fill("#email", DEMO_EMAIL)
        await page.fill("#password", DEMO_PASSWORD)
        await page.click("form button[type=submit]")
        await page.wait_for_url("**/app**")

        # buy and pay by card
        await page.goto("/app/loja")
        await page.check("input[name=plan_code][value=basico]")
        await page.fill("#f-domain", domain)
        await page.click("form.shop button[type=submit]")
        await page.wait_for_url("**/app/pedidos/**")
        pay_link = page.get_by_role("link", name="Pagar a fatura")
        await expect(pay_link).to_be_visible(timeout=LIVE)
        await pay_link.click()
        total = cents(await page.locator("tfoot td.num strong").first.inner_text())
        await page.select_option("#card", "pm_card_visa")
        await page.click("#pay-card")
        await expect(page.locator("#invoice-status")).to_have_text("pago", timeout=LIVE)
        invoice_url = page.url

        # provisioning gives up: the customer is told, here and by e-mail
        await page.goto("/app/servicos")
        await page.get_by_role("link", name=domain).click()
        undelivered = page.locator("#undelivered")
        await expect(undelivered).to_be_visible(timeout=LIVE)
        await expect(page.locator("#failure")).to_be_visible()
        await mailbox.wait_for(DEMO_EMAIL, f"A ativação de {domain} está atrasada")
        await screenshot(page, "servico-nao-entregue")
        # in plain words: the provider's own (server names, HTTP codes) are for staff
        shown = await page.locator("main").inner_text()
        assert "HTTP 500" not in shown and "WhmUnavailable" not in shown, shown
        await expect(page.locator("#steps")).to_contain_text("Paramos de tentar")

        # the money back: said before confirming, then refunded to the card
        await undelivered.get_by_role("link", name="Cancelar e receber de volta").click()
        await expect(page.locator("#quote-total")).to_contain_text("Você recebe de volta")
        assert cents(await page.locator("#quote-total strong").inner_text()) == total
        await screenshot(page, "cancelar-nao-entregue")
        await page.get_by_role("button", name="Confirmar").click()
        await page.wait_for_url("**?ok=cancelled")
        mail = await mailbox.wait_for(DEMO_EMAIL, "Devolvemos")
        assert domain in mail["subject"], mail["subject"]
        assert f"R$ {total // 100},{total % 100:02d}" in mail["subject"], mail["subject"]
        await page.goto(invoice_url)
        await expect(page.locator("#invoice-status")).to_have_text("estornada", timeout=LIVE)
        assert errors == [], errors
    finally:
        await context.close()
