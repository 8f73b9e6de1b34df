"""The web app's pages on the real gateway (real broker, database, Redis; the
other services' query side stood in by ``Peers``): signing in with the forms,
errors next to the field in the person's language, the permission matrix on
every page (a viewer gets a 403 page on billing pages), CSRF on every form,
and pages that obey the strict Content-Security-Policy (no inline code)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

from gateway_kit import PASSWORD, Harness, HarnessFactory, unique_email

from hospeda.contracts.identity import CompanyRole
from hospeda.devstack.testing import screenshot
from hospeda.gateway.permissions import StaffRole

WEB = Path(__file__).resolve().parents[1] / "src" / "hospeda" / "gateway" / "web"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_a_signed_out_visitor_is_sent_to_sign_in_and_back(harness: Harness) -> None:
    browser = harness.browser()
    home = await browser.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/entrar"
    away = await browser.get("/app/faturas?estado=open", follow_redirects=False)
    assert away.status_code == 303
    assert away.headers["location"] == "/entrar?next=/app/faturas%3Festado%3Dopen"
    # the API keeps answering problems, not pages
    api = await browser.get("/api/v1/invoices")
    assert api.status_code == 401 and api.headers["content-type"].startswith("application/problem")


async def test_the_sign_in_page_has_what_passkeys_and_the_pwa_hook_into(harness: Harness) -> None:
    page = (await harness.browser().get("/entrar")).text
    assert 'autocomplete="username webauthn"' in page and 'id="email"' in page
    assert '<button type="button" id="passkey-login" class="wide" hidden>' in page
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert '<script src="/static/js/pwa.js" type="module"></script>' in page
    assert '<div id="pwa-banner" hidden></div>' in page
    assert "demonstracao-hospeda" not in page  # the demo hint only in demo mode


async def test_sign_in_with_the_forms_password_then_code(harness: Harness) -> None:
    person = await harness.sign_up(login=False)
    browser = harness.browser()
    wrong = await browser.post(
        "/entrar", data={"email": person.email, "password": "não é esta", "next": "/app/dns"}
    )
    assert wrong.status_code == 401
    assert "E-mail ou senha incorretos." in wrong.text
    assert f'value="{person.email}"' in wrong.text  # kept, so only the password is typed again

    right = await browser.post(
        "/entrar",
        data={"email": person.email, "password": person.password, "next": "/app/dns"},
        follow_redirects=False,
    )
    assert right.status_code == 303 and right.headers["location"] == "/app/dns"
    assert browser.session_id

    # with 2FA: the password opens the code step, the code the app
    await harness.login(person)
    await harness.enable_2fa(person)
    second = harness.browser()
    step = await second.post(
        "/entrar",
        data={"email": person.email, "password": person.password, "next": "/app/empresa"},
        follow_redirects=False,
    )
    assert step.headers["location"] == "/entrar/codigo?next=/app/empresa"
    bad = await second.post("/entrar/codigo", data={"code": "000000", "next": "/app/empresa"})
    assert bad.status_code == 422 and 'id="f-code-error"' in bad.text
    assert person.totp is not None
    done = await second.post(
        "/entrar/codigo",
        data={"code": person.totp.code(), "next": "/app/empresa"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/app/empresa"
    company = await second.get("/app/empresa")
    assert company.status_code == 200 and "Padaria Pão Quente" in company.text


async def test_a_next_page_elsewhere_is_ignored(harness: Harness) -> None:
    person = await harness.sign_up(login=False)
    answer = await harness.browser().post(
        "/entrar",
        data={"email": person.email, "password": person.password, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/app"


async def test_sign_up_errors_are_next_to_the_field_in_the_persons_language(
    harness: Harness,
) -> None:
    form = {"company_name": "Padaria", "name": "Ana", "email": "não-é-email", "password": "curta"}
    pt = await harness.browser().post("/cadastro", data=form)
    assert pt.status_code == 422
    assert re.search(r'id="f-password-error">Texto curto demais \(mínimo 12\)', pt.text)
    assert 'id="f-email-error"' in pt.text
    assert 'value="Padaria"' in pt.text  # what was typed stays
    en = await harness.browser(accept_language="en").post("/cadastro", data=form)
    assert re.search(r'id="f-password-error">Text too short \(minimum 12\)', en.text)
    assert '<html lang="en">' in en.text

    ok = await harness.browser().post(
        "/cadastro",
        data={**form, "email": unique_email(), "password": "uma frase longa o bastante"},
    )
    assert ok.status_code == 200 and "Confira seu e-mail" in ok.text


async def test_every_form_needs_the_csrf_token(harness: Harness) -> None:
    owner = await harness.sign_up()
    browser = owner.browser
    assert browser.csrf
    missing = await browser.post("/app/notificacoes/lidas", csrf=False, headers=FORM, data={})
    assert missing.status_code == 403
    assert "text/html" in missing.headers["content-type"]
    assert "Recarregue a página" in missing.text
    forged = await browser.post(
        "/app/notificacoes/lidas", csrf=False, data={"csrf_token": "x" * 32}
    )
    assert forged.status_code == 403
    sent = await browser.post(
        "/app/notificacoes/lidas",
        csrf=False,
        data={"csrf_token": browser.csrf},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/app/notificacoes?ok=read"


async def test_pages_follow_the_permission_matrix(harness: Harness) -> None:
    owner = await harness.sign_up()
    viewer = await harness.invite(owner, CompanyRole.VIEWER)
    tech = await harness.invite(owner, CompanyRole.TECHNICAL)
    invoice_id = str(uuid4())
    invoice = harness.peers.add(
        "invoices",
        owner.company_id,
        id=invoice_id,
        invoice_id=invoice_id,  # what the stand-in looks it up by
        number="2026-0001",
        kind="order",
        status="open",
        total={"amount": 4990, "currency": "BRL"},
        amount_due={"amount": 4990, "currency": "BRL"},
        credit_applied={"amount": 0, "currency": "BRL"},
        lines=[],
        payments=[],
    )

    assert (await owner.browser.get("/app/loja")).status_code == 200
    shop = await viewer.browser.get("/app/loja")
    assert shop.status_code == 403 and "Sem permissão" in shop.text
    pay = await viewer.browser.post(
        f"/app/faturas/{invoice['id']}/pagar", data={"method": "pix_stripe"}
    )
    assert pay.status_code == 403
    # a viewer reads invoices (the matrix says so) but is offered no way to pay
    seen = await viewer.browser.get(f"/app/faturas/{invoice['id']}")
    assert seen.status_code == 200 and "2026-0001" in seen.text and 'id="pay-pix"' not in seen.text
    owners = await owner.browser.get(f"/app/faturas/{invoice['id']}")
    assert 'id="pay-pix"' in owners.text
    assert (await tech.browser.get("/app/faturas")).status_code == 403
    assert (await tech.browser.get("/app/tokens")).status_code == 403
    assert (await viewer.browser.get("/equipe")).status_code == 403
    nav = (await viewer.browser.get("/app/servicos")).text
    assert 'href="/app/loja"' not in nav and 'href="/app/faturas"' in nav


STATIC_CHECKS = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "inline handler": re.compile(r"\son[a-z]+\s*=", re.I),
    "style attribute": re.compile(r"\sstyle\s*=", re.I),
    "style element": re.compile(r"<style\b", re.I),
    "outside resource": re.compile(r"(src|href)=\"(https?:)?//(?!\{\{)", re.I),
}


def test_templates_need_nothing_the_csp_forbids() -> None:
    """script-src/style-src 'self': code and styles only from /static files."""
    templates = sorted((WEB / "templates").glob("*.html"))
    assert len(templates) > 15
    for template in templates:
        text = template.read_text()
        for what, pattern in STATIC_CHECKS.items():
            if what == "outside resource":
                text = text.replace('href="https://{{ service.server }}:2083/"', "")  # cPanel
            assert not pattern.search(text), f"{template.name}: {what}"


async def test_a_person_signs_in_with_chromium_and_moves_around(
    harness: Harness, chromium: Any
) -> None:
    person = await harness.sign_up(login=False)
    context = await chromium.new_context(base_url=harness.url, locale="pt-BR")
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        await page.goto("/app/empresa")
        assert "/entrar?next=/app/empresa" in page.url
        await page.fill("#email", person.email)
        await page.fill("#password", person.password)
        await page.keyboard.press("Enter")
        # the path, not a glob: "**/app/empresa" also matches /entrar?next=/app/empresa
        await page.wait_for_url(lambda url: urlsplit(url).path == "/app/empresa")
        assert await page.locator("h1").inner_text() == "Empresa"
        # keyboard: the skip link comes first and is visible when focused
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.className") == "skip"
        await page.fill("#f-email", unique_email("novo"))
        await page.click("form[action='/app/empresa/convites'] button[type=submit]")
        await page.wait_for_url("**/app/empresa?ok=invited")
        assert "Convite enviado" in await page.locator(".notice").inner_text()
        await page.goto("/app/seguranca")
        await page.click("form[action='/app/seguranca/2fa'] button")
        await page.wait_for_selector("img.qr")
        await screenshot(page, "seguranca-2fa")
        await page.goto("/app/confirmar?next=/app/tokens")  # where a stale sign-in is sent
        assert await page.locator("h1").inner_text() == "Confirme que é você"
        await screenshot(page, "identidade")
        await page.click("form.logout button")
        await page.wait_for_url("**/entrar?saiu=1")
        assert "Você saiu da sua conta." in await page.locator("main").inner_text()
        assert problems == []
    finally:
        await context.close()


async def test_a_sensitive_page_asks_for_the_password_again_and_comes_back(
    make_harness: HarnessFactory,
) -> None:
    """The pages refuse what the API refuses: 2FA and API tokens need a recent sign-in."""
    harness = await make_harness(reauth_window_s=3)
    owner = await harness.sign_up()
    browser = owner.browser
    await asyncio.sleep(3.5)  # the sign-in is no longer recent
    base = str(browser.client.base_url).rstrip("/")
    token = {"name": "CI", "permissions": "company:read"}
    for url, data, came_from in (
        ("/app/seguranca/2fa", {}, "/app/seguranca"),
        ("/app/tokens", token, "/app/tokens"),
    ):
        refused = await browser.post(
            url, data=data, headers={"Referer": base + came_from}, follow_redirects=False
        )
        assert refused.status_code == 303, refused.text
        assert refused.headers["location"] == "/app/confirmar?next=" + came_from
    # another site's address in Referer or next never becomes the way back
    elsewhere = await browser.post(
        "/app/seguranca/2fa",
        headers={"Referer": "https://evil.example/app/x"},
        follow_redirects=False,
    )
    assert elsewhere.headers["location"] == "/app/confirmar?next=/app/seguranca"

    form = await browser.get("/app/confirmar?next=/app/tokens")
    assert form.status_code == 200 and 'name="password"' in form.text
    assert '<input type="hidden" name="next" value="/app/tokens">' in form.text
    wrong = await browser.post(
        "/app/confirmar", data={"password": "chute-errado", "next": "/app/tokens"}
    )
    assert wrong.status_code == 422 and "incorret" in wrong.text
    empty = await browser.post("/app/confirmar", data={"next": "/app/tokens"})
    assert empty.status_code == 422
    still = await browser.post("/app/seguranca/2fa", follow_redirects=False)
    assert still.status_code == 303  # a wrong password proves nothing

    right = await browser.post(
        "/app/confirmar",
        data={"password": PASSWORD, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert right.status_code == 303 and right.headers["location"] == "/app/seguranca"
    setup = await browser.post("/app/seguranca/2fa")
    assert setup.status_code == 200 and 'class="qr"' in setup.text
    created = await browser.post("/app/tokens", data=token)
    assert created.status_code == 200 and "hsp_" in created.text


async def test_staff_see_the_jobs_that_failed_across_companies(harness: Harness) -> None:
    first, second = await harness.sign_up(), await harness.sign_up()
    for owner, error in ((first, "WHM 500: createacct"), (second, "Cloudflare 429")):
        harness.peers.add(
            "jobs",
            owner.company_id,
            id=str(uuid4()),
            kind="create-account",
            key=f"service:{uuid4()}",
            state="failed",
            attempts=5,
            max_attempts=5,
            run_at="2026-12-07T12:00:00+00:00",
            finished_at="2026-12-07T12:05:00+00:00",
            last_error=error,
            payload={"password": "segredo-do-cliente"},
        )
    operator = await harness.staff(StaffRole.OPERATOR)
    listed = await operator.browser.get("/equipe/tarefas")
    assert listed.status_code == 200, listed.text
    assert "WHM 500: createacct" in listed.text and "Cloudflare 429" in listed.text
    assert listed.text.count('data-job="') == 2
    assert "segredo-do-cliente" not in listed.text  # a job's payload is never shown
    console = await operator.browser.get("/equipe")
    assert 'href="/equipe/tarefas"' in console.text
    running = await operator.browser.get("/equipe/tarefas?estado=running")
    assert running.status_code == 200
    assert 'href="/equipe/tarefas?estado=running" aria-current="page">em andamento' in running.text
    assert (await operator.browser.get("/equipe/tarefas?estado=tudo")).status_code == 422
    # a customer's owner is not staff
    assert (await first.browser.get("/equipe/tarefas")).status_code == 403
