"""The customer's whole journey in a real browser (Debian's Chromium, headless)
against the whole platform: sign up, confirm the e-mail read from the local
mail server, buy a plan with two add-ons, pay by Pix (the Stripe simulator
settles it), watch provisioning complete live, see the DNS delegation pending
then verified, upgrade one add-on and cancel another with the prorated amounts
shown first and charged, and read the inbox. One test: one platform start.
Screenshots of each main page at 390 px and 1280 px go to docs/screenshots/.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any
from uuid import uuid4

import httpx
import pytest
from playwright.async_api import Page, expect
from test_customer_journey import Mailbox, mail_link

from hospeda.billing.pix import parse_payload
from hospeda.devstack.servers import free_port
from hospeda.devstack.stack import Stack
from hospeda.devstack.testing import screenshot

pytestmark = pytest.mark.e2e

PASSWORD = "uma senha longa o bastante"
LIVE = 90_000  # ms: how long a live change may take on a loaded machine


@pytest.fixture
def platform_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    # a port of our own: another stack on this machine may hold billing's usual 8010
    monkeypatch.setenv("BILLING_WEBHOOK_PORT", str(free_port()))
    return {
        "HOSPEDA_DEMO": "1",  # the demo catalog, as `make run` has it
        "DNS_DELEGATION_RETRY_BASE_S": "1",  # check the delegation again within seconds
        "DNS_DELEGATION_RETRY_MAX_S": "2",
    }


def cents(text: str) -> int:
    """``R$ 1.234,56`` → 123456."""
    digits = re.sub(r"[^\d,-]", "", text).replace(",", "")
    return int(digits)


async def test_a_customer_does_everything_in_the_browser(platform: Stack, chromium: Any) -> None:
    base = f"http://127.0.0.1:{platform.gateway_port}"
    env = platform.service_env
    dns_control = env["DNS_SIMULATOR_CONTROL_URL"]
    mailbox = Mailbox(
        next(url for name, url in platform.links.items() if "e-mail" in name).replace(
            "localhost", "127.0.0.1"
        )
    )
    email = f"dona-{uuid4().hex[:8]}@padaria.com.br"
    domain = f"padaria-{uuid4().hex[:6]}.com.br"
    context = await chromium.new_context(
        base_url=base, locale="pt-BR", viewport={"width": 390, "height": 844}
    )
    page: Page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # the pages' Content-Security-Policy allows only our own files: a refused script,
    # style or connection is reported on the console, and is a defect of ours
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    answers: list[str] = []  # printed when the test fails: what the browser saw
    page.on("response", lambda r: answers.append(f"{r.status} {r.request.method} {r.url}"))
    try:
        # sign up, with an error next to the field first
        await page.goto("/cadastro")
        await page.fill("#f-company_name", "Padaria Pão Quente")
        await page.fill("#f-name", "Maria Souza")
        await page.fill("#f-email", email)
        await page.fill("#f-password", "curta")
        await page.click("form button[type=submit]")
        await expect(page.locator("#f-password-error")).to_contain_text("mínimo")
        await screenshot(page, "cadastro")
        await page.fill("#f-password", PASSWORD)
        await page.click("form button[type=submit]")
        await expect(page.locator("h1")).to_have_text("Confira seu e-mail")

        # the link that was really e-mailed opens the confirmation page
        mail = await mailbox.wait_for(email, "Confirme seu e-mail")
        link = mail_link(mail)
        await page.goto(base + link[link.index("/conta/") :])
        await page.click("form button[type=submit]")
        await expect(page.locator("h1")).to_have_text("E-mail confirmado")

        # sign in; the app opens on the services
        await page.goto("/app/faturas")
        assert "/entrar?next=/app/faturas" in page.url
        await screenshot(page, "entrar")
        await page.fill("#email", email)
        await page.fill("#password", PASSWORD)
        await page.click("form button[type=submit]")
        await page.wait_for_url("**/app/faturas")

        # the shop: a plan for a domain with two add-ons
        await page.goto("/app/loja")
        await page.check("input[name=plan_code][value=profissional]")
        await page.fill("#f-domain", domain)
        await page.check("input[name=addons][value=backup-pro]")
        await page.check("input[name=addons][value=email-pro]")
        await screenshot(page, "loja")
        await page.click("form.shop button[type=submit]")
        await page.wait_for_url("**/app/pedidos/**")
        pay_link = page.get_by_role("link", name="Pagar a fatura")
        await expect(pay_link).to_be_visible(timeout=LIVE)  # the invoice arrives live
        await pay_link.click()
        invoice_url = page.url
        await expect(page.locator("table")).to_contain_text("Backup Pro")
        await screenshot(page, "fatura")

        # Pix at the platform's PSP: QR code, copy and paste, countdown; the test bank
        # (the PSP simulator) pays in another tab; the PSP's webhook turns this page "pago" live
        await page.click("#pay-pix")
        await expect(page.locator("img.qr")).to_be_visible(timeout=LIVE)
        await expect(page.locator("#pix-code")).not_to_be_empty()
        await expect(page.locator("#pix-expiry")).to_have_text(re.compile(r"^\d+:\d\d"))
        code = parse_payload(await page.locator("#pix-code").input_value())
        assert code.location and code.key is None  # the PSP's dynamic code
        await screenshot(page, "pix")
        async with page.context.expect_page() as opened:
            await page.click("#test-bank")
        bank = await opened.value
        await bank.click("#pay")
        await expect(bank.locator("#status")).to_have_text("CONCLUIDA")
        await bank.close()
        await expect(page.locator("#invoice-status")).to_have_text("pago", timeout=LIVE)
        assert page.url.split("#")[0].split("?")[0] == invoice_url.split("?")[0]  # no reload

        # the service is created live, step by step
        await page.goto("/app/servicos")
        await page.get_by_role("link", name=re.compile(domain)).click()
        await expect(page.locator(".head .badge")).to_have_text("ativo", timeout=LIVE)
        await expect(page.locator("#steps li").first).to_be_visible()
        await expect(page.locator("[data-addon=backup-pro] .badge")).to_have_text(
            "ativo", timeout=LIVE
        )
        await expect(page.locator("[data-addon=email-pro] .badge")).to_have_text(
            "ativo", timeout=LIVE
        )
        await screenshot(page, "servico")
        service_url = page.url

        # DNS: nameservers to set at Registro.br; pending, then verified live
        await page.goto(f"/app/dns/{domain}")
        status = page.locator("#delegation-status")
        await expect(status).to_have_text(re.compile("pendente|não iniciada"), timeout=LIVE)
        await screenshot(page, "dns")
        # the zone's nameservers come from Cloudflare a moment after the zone itself
        deadline = time.monotonic() + LIVE / 1000
        while not (nameservers := await page.locator(".ns code").all_inner_texts()):
            assert time.monotonic() < deadline, "the zone's nameservers never showed"
            await asyncio.sleep(1)
            await page.reload()
        async with httpx.AsyncClient() as client:
            delegated = await client.post(
                f"{dns_control}/delegate", json={"domain": domain, "nameservers": nameservers}
            )
            assert delegated.status_code == 200, delegated.text
        await expect(status).to_have_text("verificada", timeout=LIVE)

        # upgrade one add-on: the prorated amount first, then that amount is charged
        await page.goto(service_url)
        row = page.locator("[data-addon=email-pro]")
        # only its own tiers are offered: the change provisioning can make
        assert await row.locator("select option").all_inner_texts() == ["E-mail Business"]
        await row.locator("select").select_option("email-business")
        await row.get_by_role("button", name="Mudar").click()
        total = page.locator("#quote-total strong")
        await expect(total).to_be_visible()
        quoted = cents(await total.inner_text())
        assert quoted > 0
        await screenshot(page, "mudar-adicional")
        await page.get_by_role("button", name="Confirmar").click()
        await page.wait_for_url(service_url + "?ok=changed")

        await page.goto("/app/faturas")
        change = page.locator("tr", has_text="Mudança de plano")
        await expect(change).to_be_visible(timeout=LIVE)
        assert cents(await change.locator("td.num").inner_text()) == quoted
        await screenshot(page, "faturas")
        await change.get_by_role("link").click()
        await page.select_option("#card", "pm_card_visa")
        await page.click("#pay-card")
        await expect(page.locator("#invoice-status")).to_have_text("pago", timeout=LIVE)

        # cancel another: nothing to pay, said before confirming
        await page.goto(service_url)
        await page.locator("[data-addon=backup-pro]").get_by_role("link", name="Cancelar").click()
        assert cents(await page.locator("#quote-total strong").inner_text()) == 0
        await page.get_by_role("button", name="Confirmar").click()
        await page.wait_for_url(service_url + "?ok=cancelled")
        await expect(page.locator("[data-addon=email-business] .badge")).to_have_text(
            "ativo", timeout=LIVE
        )
        await expect(page.locator("[data-addon=backup-pro]")).to_have_count(0, timeout=LIVE)

        # the inbox has the journey; mark one read
        await page.goto("/app/notificacoes")
        await expect(page.locator(".inbox .item").first).to_be_visible(timeout=LIVE)
        assert int(await page.locator("#unread-count").inner_text()) > 0
        await screenshot(page, "notificacoes")
        # the journey's last notifications may still be arriving, so follow one item, not the count
        action = await page.locator(".inbox .item.unread form").first.get_attribute("action")
        item = page.locator(f'form[action="{action}"]').get_by_role("button")
        await item.click()  # live: no reload here
        await expect(item).to_have_text("Marcar como não lida", timeout=LIVE)

        for path, name in (
            ("/app/notificacoes/preferencias", "preferencias"),
            ("/app/empresa", "empresa"),
            ("/app/seguranca", "seguranca"),
            ("/app/servicos", "servicos"),
        ):
            await page.goto(path)
            await screenshot(page, name)
        assert errors == [], errors
    finally:
        print("\n".join(answers[-40:]))
        await context.close()
