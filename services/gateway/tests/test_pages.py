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

import pytest
from aiokafka import AIOKafkaProducer
from gateway_kit import PASSWORD, Harness, HarnessFactory, find_message, unique_email

from hospeda.contracts import Actor, ActorKind, Envelope, new_id
from hospeda.contracts.audit import AuditRecord
from hospeda.contracts.billing import (
    BillingCycle,
    PlaceOrder,
    RecordPixPayment,
    RefundInvoice,
    VoidInvoice,
)
from hospeda.contracts.identity import CompanyRole
from hospeda.contracts.jobs import CancelJob, RetryJob
from hospeda.contracts.provisioning import SuspendAccount, UnsuspendAccount
from hospeda.contracts.queries import QueryError, QueryReply
from hospeda.contracts.topics import AUDIT_RECORDS, BILLING_COMMANDS, PROVISIONING_COMMANDS
from hospeda.devstack.testing import screenshot
from hospeda.gateway.permissions import StaffRole
from hospeda.gateway.web.render import cents

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
    # posted as a browser posts the form: the page's csrf_token field, no header
    code_page = await second.get(step.headers["location"])
    token = re.search(r'name="csrf_token" value="([^"]+)"', code_page.text)
    assert token is not None, "the code step's form carries no CSRF token"
    form = {"csrf_token": token.group(1), "next": "/app/empresa"}
    bad = await second.post("/entrar/codigo", csrf=False, data={**form, "code": "000000"})
    assert bad.status_code == 422 and 'id="f-code-error"' in bad.text
    assert person.totp is not None
    done = await second.post(
        "/entrar/codigo",
        csrf=False,
        data={**form, "code": person.totp.code()},
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


async def test_staff_find_a_company_and_act_on_it_with_a_reason(harness: Harness) -> None:
    owner = await harness.sign_up(company="Padaria Pão Quente")
    await harness.sign_up(company="Oficina do Zé")
    support = await harness.staff(StaffRole.SUPPORT)
    console = await support.browser.get("/equipe")
    assert 'href="/equipe/empresas"' in console.text
    found = await support.browser.get("/equipe/empresas?q=padaria")
    assert found.status_code == 200, found.text
    assert f'data-company="{owner.company_id}"' in found.text and "Oficina do Zé" not in found.text

    detail = await support.browser.get(f"/equipe/empresas/{owner.company_id}")
    assert detail.status_code == 200 and owner.email in detail.text and 'id="act"' in detail.text
    no_reason = await support.browser.post(
        f"/equipe/empresas/{owner.company_id}/agir", data={"reason": ""}
    )
    assert no_reason.status_code == 422 and 'id="f-reason-error"' in no_reason.text
    before = support.browser.session_id
    acted = await support.browser.post(
        f"/equipe/empresas/{owner.company_id}/agir",
        data={"reason": "Chamado #4512: fatura em dobro"},
        follow_redirects=False,
    )
    assert acted.status_code == 303 and acted.headers["location"] == "/app/servicos"
    assert support.browser.session_id != before  # acting is a new session id
    inside = await support.browser.get("/app/empresa")
    assert inside.status_code == 200 and 'id="acting"' in inside.text
    active = await support.browser.get("/api/v1/company")
    assert active.json()["name"] == "Padaria Pão Quente"
    record = await find_message(
        harness.bootstrap,
        AUDIT_RECORDS.name,
        lambda m: (
            isinstance(m.payload, AuditRecord)
            and m.payload.action == "staff.acting_started"
            and m.company_id == owner.company_id
        ),
    )
    assert record.payload.after == {"reason": "Chamado #4512: fatura em dobro"}
    assert record.actor.kind == ActorKind.STAFF

    stopped = await support.browser.post("/equipe/parar-de-agir", follow_redirects=False)
    assert stopped.headers["location"] == "/equipe/empresas"
    back = await support.browser.get("/app/empresa")
    assert back.status_code == 200 and 'id="acting"' not in back.text
    own = await support.browser.get("/api/v1/company")
    assert own.json()["name"] != "Padaria Pão Quente"
    # customers have no console
    assert (await owner.browser.get("/equipe/empresas")).status_code == 403
    assert (await owner.browser.get(f"/equipe/empresas/{owner.company_id}")).status_code == 403


async def test_the_api_reference_renders_in_chromium_from_this_origin(
    harness: Harness, chromium: Any
) -> None:
    """Swagger UI reads the gateway's OpenAPI 3.1 document (an older bundle said it
    had "no valid version field"), under the pages' CSP, loading nothing from elsewhere."""
    context = await chromium.new_context(base_url=harness.url, locale="pt-BR")
    page = await context.new_page()
    problems: list[str] = []
    elsewhere: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on(
        "response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    page.on(
        "request",
        lambda r: elsewhere.append(r.url) if not r.url.startswith((harness.url, "data:")) else None,
    )
    try:
        await page.goto("/docs")
        title = page.locator(".swagger-ui .info .title")
        await title.wait_for(timeout=20_000)
        assert "Hospeda API" in await title.inner_text()
        assert await page.locator(".opblock").count() > 50  # the operations are listed
        assert problems == [] and elsewhere == [], (problems, elsewhere)
    finally:
        await context.close()


async def test_the_staff_console_in_chromium(harness: Harness, chromium: Any) -> None:
    """The console's pages as an operator's browser shows them (screenshots), with
    nothing refused by the pages' Content-Security-Policy."""
    owner = await harness.sign_up(company="Padaria Pão Quente")
    job_id = failed_job(harness, owner.company_id)
    templates_from_notify(harness)
    operator = await harness.staff(StaffRole.OPERATOR)
    context = await chromium.new_context(base_url=harness.url, locale="pt-BR")
    host = urlsplit(harness.url).hostname or "127.0.0.1"
    # the operator's session from its sign-in (__Host- cookies: Secure, Path=/, no domain)
    await context.add_cookies(
        [
            {"name": k, "value": v, "domain": host, "path": "/", "secure": True}
            for k, v in operator.browser.cookies.items()
        ]
    )
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    try:
        await page.goto("/equipe/empresas?q=padaria")
        await page.click(f"[data-company='{owner.company_id}'] a")
        await page.wait_for_selector("#act")
        assert owner.email in await page.locator("#people").inner_text()
        await screenshot(page, "equipe-empresa")
        await page.goto(f"/equipe/tarefas/{job_id}")
        await page.wait_for_selector("#job-retry")
        await screenshot(page, "equipe-tarefa")
        await page.click("#job-retry")
        await page.wait_for_selector("#sent")
        await page.goto("/equipe/modelos/invoice-issued")
        frame = page.frame_locator("iframe.email-preview")
        await frame.locator("body").wait_for()
        assert "Fatura" in await frame.locator("body").inner_text()
        await screenshot(page, "equipe-modelo")
        assert problems == [], problems
    finally:
        await context.close()


def templates_from_notify(harness: Harness) -> None:
    """notify's own template queries answer for it (its real rendering code, sample
    data and links), as the service would over Kafka."""
    from pydantic import SecretStr

    from hospeda.notify import queries as notify_queries
    from hospeda.notify.links import Links
    from hospeda.runtime.messaging import QueryContext

    links = Links("http://127.0.0.1:8000", SecretStr("segredo-de-teste-bem-comprido"))
    plain = harness.peers.answer

    def answer(service: str, query: Any) -> QueryReply:
        ctx = QueryContext(session=None, query=query)  # type: ignore[arg-type]
        name = query.payload.name
        try:
            if (service, name) == ("notify", "templates.list"):
                return QueryReply(ok=True, data=notify_queries.list_templates(ctx))
            if (service, name) == ("notify", "templates.preview"):
                data = notify_queries.preview_template(query.payload.params, ctx, links)
                return QueryReply(ok=True, data=data)
        except Exception as exc:
            code = "not_found" if "unknown template" in str(exc) else "forbidden"
            return QueryReply(ok=False, error=QueryError(code=code, message=str(exc)))
        return plain(service, query)

    harness.peers.answer = answer  # type: ignore[method-assign]


async def test_staff_preview_every_notification_template(harness: Harness) -> None:
    templates_from_notify(harness)
    support = await harness.staff(StaffRole.SUPPORT)
    listed = await support.browser.get("/equipe/modelos")
    assert listed.status_code == 200, listed.text
    assert listed.text.count("data-template=") > 15
    assert 'href="/equipe/modelos/invoice-issued"' in listed.text

    pt = await support.browser.get("/equipe/modelos/invoice-issued")
    assert pt.status_code == 200 and "Fatura" in pt.text and 'id="push"' in pt.text
    en = await support.browser.get("/equipe/modelos/invoice-issued?idioma=en")
    assert en.status_code == 200 and "Invoice" in en.text
    framed = await support.browser.get("/equipe/modelos/invoice-issued/en.html")
    assert framed.status_code == 200 and "<html" in framed.text.lower()
    # the e-mail's own HTML: its inline styles, never a script, only inside this site
    policy = framed.headers["content-security-policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy and "sandbox" in policy
    assert framed.headers["x-frame-options"] == "SAMEORIGIN"
    assert (await support.browser.get("/equipe/modelos/nao-existe")).status_code == 404
    assert (await support.browser.get("/equipe/modelos/invoice-issued/fr.html")).status_code == 422
    owner = await harness.sign_up()
    assert (await owner.browser.get("/equipe/modelos")).status_code == 403


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("19,90", 1990), ("1.234,56", 123456), ("R$ 49", 4900), ("19.90", 1990), ("19,9", 1990),
     ("0,01", 1), ("R$ 1.049,90", 104990)],
)  # fmt: skip
def test_amounts_typed_in_reais_are_cents(typed: str, expected: int) -> None:
    assert cents(typed) == expected


@pytest.mark.parametrize("typed", ["", "abc", "19,999", "-5", "1,2,3", "R$", "19,9x", "1e3"])
def test_what_is_not_an_amount_is_refused(typed: str) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        cents(typed)


def invoice_of(
    harness: Harness, company_id: Any, status: str, *, pix_txid: str | None = None
) -> str:
    """An invoice as billing's query answers it (a direct Pix charge waiting, if asked)."""
    invoice_id = str(uuid4())
    brl = lambda cents: {"amount": cents, "currency": "BRL"}  # noqa: E731
    payments = []
    if pix_txid:
        payments.append(
            {"id": str(uuid4()), "method": "pix", "provider": "pix", "status": "requires_action",
             "provider_reference": pix_txid, "amount": brl(4990),
             "created_at": "2026-12-07T12:00:00+00:00",
             "next_action": {"type": "pix_br_code", "copy_paste": "00020101021226…"}}
        )  # fmt: skip
    harness.peers.add(
        "invoices",
        company_id,
        id=invoice_id,
        invoice_id=invoice_id,
        number="2026-000123",
        kind="order",
        status=status,
        issued_at="2026-12-07T12:00:00+00:00",
        due_at="2026-12-10T12:00:00+00:00",
        lines=[{"description": "Hospedagem Pro", "amount": brl(4990)}],
        total=brl(4990),
        amount_due=brl(4990 if status in ("open", "overdue") else 0),
        credit_applied=brl(0),
        payments=payments,
    )
    return invoice_id


async def test_staff_adjust_an_invoice_from_its_page(harness: Harness) -> None:
    owner = await harness.sign_up()
    assert owner.company_id is not None
    open_one = invoice_of(harness, owner.company_id, "open", pix_txid="HSP2026000123ABC")
    paid_one = invoice_of(harness, owner.company_id, "paid")
    agent = await harness.staff(StaffRole.BILLING)
    await harness.act_on(agent, owner.company_id)

    shown = await agent.browser.get(f"/app/faturas/{open_one}")
    assert shown.status_code == 200, shown.text
    assert 'id="staff-pix"' in shown.text and 'value="HSP2026000123ABC"' in shown.text
    assert 'id="staff-void"' in shown.text and 'id="staff-refund"' not in shown.text
    # the customer sees none of it
    assert 'id="staff-actions"' not in (await owner.browser.get(f"/app/faturas/{open_one}")).text

    bad = await agent.browser.post(
        f"/app/faturas/{open_one}/equipe/pix-recebido",
        data={"txid": "HSP2026000123ABC", "amount": "49,9x", "reason": "Extrato de 07/12"},
    )
    assert bad.status_code == 422 and 'id="pix-amount-error">Em reais e centavos' in bad.text
    assert 'value="Extrato de 07/12"' in bad.text  # what was typed comes back
    recorded = await agent.browser.post(
        f"/app/faturas/{open_one}/equipe/pix-recebido",
        data={
            "txid": "HSP2026000123ABC",
            "amount": "R$ 1.049,90",
            "end_to_end_id": "E1234567820261207",
            "reason": "Extrato de 07/12",
        },
        follow_redirects=False,
    )
    assert recorded.status_code == 303, recorded.text
    assert recorded.headers["location"] == f"/app/faturas/{open_one}?ok=adjusted"
    pix = await find_message(
        harness.bootstrap,
        BILLING_COMMANDS.name,
        lambda m: isinstance(m.payload, RecordPixPayment) and str(m.payload.invoice_id) == open_one,
    )
    assert pix.payload.amount.amount == 104990 and pix.payload.txid == "HSP2026000123ABC"
    assert pix.company_id == owner.company_id and pix.actor.kind == ActorKind.STAFF
    record = await find_message(
        harness.bootstrap,
        AUDIT_RECORDS.name,
        lambda m: isinstance(m.payload, AuditRecord) and m.correlation_id == pix.correlation_id,
    )
    assert record.payload.action == "invoice.pix_received"
    assert record.payload.after is not None and record.payload.after["reason"] == "Extrato de 07/12"

    no_reason = await agent.browser.post(f"/app/faturas/{open_one}/equipe/anular", data={})
    assert no_reason.status_code == 422 and 'id="void-reason-error"' in no_reason.text
    voided = await agent.browser.post(
        f"/app/faturas/{open_one}/equipe/anular",
        data={"reason": "Pedido em dobro"},
        follow_redirects=False,
    )
    assert voided.status_code == 303
    await find_message(
        harness.bootstrap,
        BILLING_COMMANDS.name,
        lambda m: isinstance(m.payload, VoidInvoice) and m.payload.reason == "Pedido em dobro",
    )

    refund_page = await agent.browser.get(f"/app/faturas/{paid_one}")
    assert 'id="staff-refund"' in refund_page.text and 'id="staff-void"' not in refund_page.text
    refunded = await agent.browser.post(
        f"/app/faturas/{paid_one}/equipe/estornar",
        data={"amount": "19,90", "reason": "Cobrança em dobro"},
        follow_redirects=False,
    )
    assert refunded.status_code == 303
    refund = await find_message(
        harness.bootstrap,
        BILLING_COMMANDS.name,
        lambda m: isinstance(m.payload, RefundInvoice) and str(m.payload.invoice_id) == paid_one,
    )
    assert refund.payload.amount is not None and refund.payload.amount.amount == 1990

    # a support agent acting on the company may read the invoice, not adjust it
    support = await harness.staff(StaffRole.SUPPORT)
    await harness.act_on(support, owner.company_id)
    seen = await support.browser.get(f"/app/faturas/{open_one}")
    assert seen.status_code == 200 and 'id="staff-actions"' not in seen.text
    refused = await support.browser.post(
        f"/app/faturas/{open_one}/equipe/anular", data={"reason": "x"}
    )
    assert refused.status_code == 403


async def test_an_operator_suspends_a_site_and_lifts_it_from_the_service_page(
    harness: Harness,
) -> None:
    owner = await harness.sign_up()
    assert owner.company_id is not None
    service_id = str(uuid4())
    item = harness.peers.add(
        "services",
        owner.company_id,
        service_id=service_id,
        domain="paoquente.com.br",
        plan_code="hospedagem-pro",
        state="active",
        addons=[],
    )
    operator = await harness.staff(StaffRole.OPERATOR)
    await harness.act_on(operator, owner.company_id)
    shown = await operator.browser.get(f"/app/servicos/{service_id}")
    assert shown.status_code == 200 and 'id="suspend"' in shown.text
    assert 'id="staff-operate"' not in (await owner.browser.get(f"/app/servicos/{service_id}")).text

    no_reason = await operator.browser.post(f"/app/servicos/{service_id}/equipe/suspender", data={})
    assert no_reason.status_code == 422 and 'id="suspend-reason-error"' in no_reason.text
    sent = await operator.browser.post(
        f"/app/servicos/{service_id}/equipe/suspender",
        data={"reason": "Malware no site (chamado #77)"},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"].endswith("?ok=operated")
    command = await find_message(
        harness.bootstrap,
        PROVISIONING_COMMANDS.name,
        lambda m: isinstance(m.payload, SuspendAccount) and str(m.payload.service_id) == service_id,
    )
    assert command.payload.reason == "Malware no site (chamado #77)"
    assert command.company_id == owner.company_id and command.actor.kind == ActorKind.STAFF

    item["state"] = "suspended"  # provisioning did it
    lifted_page = await operator.browser.get(f"/app/servicos/{service_id}")
    assert 'id="unsuspend"' in lifted_page.text and 'id="suspend"' not in lifted_page.text
    lifted = await operator.browser.post(
        f"/app/servicos/{service_id}/equipe/reativar",
        data={"reason": "Limpo pelo cliente"},
        follow_redirects=False,
    )
    assert lifted.status_code == 303
    await find_message(
        harness.bootstrap,
        PROVISIONING_COMMANDS.name,
        lambda m: (
            isinstance(m.payload, UnsuspendAccount) and str(m.payload.service_id) == service_id
        ),
    )
    # another company's service is not found from this one
    other = await harness.sign_up()
    foreign = str(uuid4())
    harness.peers.add("services", other.company_id, service_id=foreign, state="active", addons=[])
    refused = await operator.browser.post(
        f"/app/servicos/{foreign}/equipe/suspender", data={"reason": "x"}
    )
    assert refused.status_code == 404
    assert (
        await owner.browser.post(
            f"/app/servicos/{service_id}/equipe/suspender", data={"reason": "x"}
        )
    ).status_code == 403


async def test_staff_see_dead_letters_by_topic_without_their_content(harness: Harness) -> None:
    support = await harness.staff(StaffRole.SUPPORT)
    calm = await support.browser.get("/equipe/mensagens-paradas")
    assert calm.status_code == 200, calm.text

    secret = new_id()
    parked = Envelope.of(
        PlaceOrder(
            order_id=secret,
            plan_code="hospedagem-pro",
            domain="segredo-do-cliente.com.br",
            cycle=BillingCycle.MONTHLY,
        ),
        actor=Actor(kind=ActorKind.USER, id="u-1"),
        company_id=new_id(),
    )
    producer = AIOKafkaProducer(bootstrap_servers=harness.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            BILLING_COMMANDS.dlq,
            parked.model_dump_json().encode(),
            headers=[
                ("type", b"billing.place_order"),
                ("x-dlq-reason", b"plano desconhecido: hospedagem-pro"),
                ("x-dlq-original-topic", BILLING_COMMANDS.name.encode()),
                ("x-dlq-original-partition", b"0"),
                ("x-dlq-original-offset", b"41"),
                ("x-dlq-consumer-group", b"billing"),
                ("x-dlq-at", b"2026-12-07T12:00:00+00:00"),
            ],
        )
    finally:
        await producer.stop()

    listed = await support.browser.get("/equipe/mensagens-paradas")
    assert f'data-topic="{BILLING_COMMANDS.dlq}"' in listed.text
    shown = await support.browser.get(f"/equipe/mensagens-paradas?topico={BILLING_COMMANDS.dlq}")
    assert shown.status_code == 200
    assert "billing.place_order" in shown.text and "plano desconhecido" in shown.text
    assert f"{BILLING_COMMANDS.name}[0]@41" in shown.text
    # the message itself (a customer's order) is never on the page
    assert "segredo-do-cliente" not in shown.text and str(secret) not in shown.text
    assert (await support.browser.get("/equipe/mensagens-paradas?topico=nada")).status_code == 404
    owner = await harness.sign_up()
    assert (await owner.browser.get("/equipe/mensagens-paradas")).status_code == 403


def failed_job(harness: Harness, company_id: Any, state: str = "failed") -> str:
    job_id = str(uuid4())
    harness.peers.add(
        "jobs",
        company_id,
        id=job_id,
        job_id=job_id,
        kind="create-account",
        key=f"service:{uuid4()}",
        state=state,
        attempts=5 if state == "failed" else 1,
        max_attempts=5,
        created_at="2026-12-07T11:59:00+00:00",
        run_at="2026-12-07T12:00:00+00:00",
        finished_at="2026-12-07T12:05:00+00:00" if state == "failed" else None,
        last_error="WHM 500: createacct" if state == "failed" else None,
        log=[
            {
                "at": "2026-12-07T12:05:00+00:00",
                "attempt": 5,
                "step": "createacct",
                "status": "failed",
                "message": "WHM 500: createacct",
            }
        ],
        payload={"password": "segredo-do-cliente"},
    )
    return job_id


async def test_an_operator_retries_and_cancels_jobs_from_the_console(harness: Harness) -> None:
    owner = await harness.sign_up()
    failed, queued = (
        failed_job(harness, owner.company_id),
        failed_job(harness, owner.company_id, "queued"),
    )
    other_failed = failed_job(harness, uuid4())  # another company's: staff see every company
    operator = await harness.staff(StaffRole.OPERATOR)

    detail = await operator.browser.get(f"/equipe/tarefas/{failed}")
    assert detail.status_code == 200, detail.text
    assert 'id="last-error"' in detail.text and "createacct" in detail.text
    assert 'id="job-retry"' in detail.text and "segredo-do-cliente" not in detail.text
    listed = await operator.browser.get("/equipe/tarefas")
    assert f'href="/equipe/tarefas/{failed}"' in listed.text and 'id="retry-all"' in listed.text

    retried = await operator.browser.post(
        f"/equipe/tarefas/{failed}/tentar", follow_redirects=False
    )
    assert retried.status_code == 303, retried.text
    assert retried.headers["location"] == "/equipe/tarefas?estado=failed&enviado=1"
    command = await find_message(
        harness.bootstrap,
        PROVISIONING_COMMANDS.name,
        lambda m: isinstance(m.payload, RetryJob) and str(m.payload.job_id) == failed,
    )
    assert command.actor.kind == ActorKind.STAFF and command.actor.id == str(operator.user_id)
    record = await find_message(
        harness.bootstrap,
        AUDIT_RECORDS.name,
        lambda m: isinstance(m.payload, AuditRecord) and m.correlation_id == command.correlation_id,
    )
    assert record.payload.action == "job.retry" and record.payload.entity_id == failed
    shown = await operator.browser.get(retried.headers["location"])
    assert 'id="sent"' in shown.text

    # only a failed job is retried; a cancel says why
    refused = await operator.browser.post(f"/equipe/tarefas/{queued}/tentar")
    assert refused.status_code == 409 and "Só uma tarefa que falhou" in refused.text
    no_reason = await operator.browser.post(
        f"/equipe/tarefas/{queued}/cancelar", data={"reason": " "}
    )
    assert no_reason.status_code == 422 and 'id="f-reason-error">Diga o motivo' in no_reason.text
    cancelled = await operator.browser.post(
        f"/equipe/tarefas/{queued}/cancelar",
        data={"reason": "Domínio errado"},
        follow_redirects=False,
    )
    assert cancelled.status_code == 303
    stop = await find_message(
        harness.bootstrap,
        PROVISIONING_COMMANDS.name,
        lambda m: isinstance(m.payload, CancelJob) and str(m.payload.job_id) == queued,
    )
    assert stop.payload.reason == "Domínio errado"

    # every failed job at once, of every company
    everything = await operator.browser.post("/equipe/tarefas/tentar-todas", follow_redirects=False)
    assert everything.headers["location"] == "/equipe/tarefas?estado=failed&enviado=2"
    await find_message(
        harness.bootstrap,
        PROVISIONING_COMMANDS.name,
        lambda m: isinstance(m.payload, RetryJob) and str(m.payload.job_id) == other_failed,
    )

    # support reads the jobs but does not act on them; customers see none of it
    support = await harness.staff(StaffRole.SUPPORT)
    read = await support.browser.get(f"/equipe/tarefas/{failed}")
    assert read.status_code == 200 and 'id="job-retry"' not in read.text
    assert (await support.browser.post(f"/equipe/tarefas/{failed}/tentar")).status_code == 403
    assert (await owner.browser.get(f"/equipe/tarefas/{failed}")).status_code == 403


# --- the audit trail page and the staff's integrity check -----------------------------------


def audit_asked(harness: Harness, name: str = "entries.list") -> list[Any]:
    return [q for q in harness.peers.asked if q.payload.name == name]


def filter_like_the_audit_service(harness: Harness) -> None:
    """The stand-in lists every entry of the company; the audit service also applies
    ``action`` (exact or a ``*`` prefix) and ``entity``: do that here too."""
    plain = harness.peers.answer

    def answer(service: str, query: Any) -> QueryReply:
        reply = plain(service, query)
        if (service, query.payload.name) != ("audit", "entries.list") or not reply.ok:
            return reply
        params = query.payload.params
        action, entity = params.get("action"), params.get("entity")

        def wanted(item: dict[str, Any]) -> bool:
            if action and not (
                item["action"].startswith(action[:-1])
                if action.endswith("*")
                else item["action"] == action
            ):
                return False
            return not entity or item.get("entity") == entity

        data = {**reply.data, "items": [i for i in reply.data["items"] if wanted(i)]}
        return QueryReply(ok=True, data=data)

    harness.peers.answer = answer  # type: ignore[method-assign]


def audit_entry(harness: Harness, company: Any, action: str, **values: Any) -> dict[str, Any]:
    return harness.peers.add(
        "entries",
        company,
        **{
            "id": str(uuid4()),
            "occurred_at": "2026-12-07T12:34:56Z",
            "actor": {"kind": "user", "id": "u-1"},
            "action": action,
            "entity": action.split(".")[0],
            "entity_id": f"{action.split('.')[0]}-1",
            "ip": "203.0.113.7",
            "before": None,
            "after": None,
            **values,
        },
    )


async def test_owners_read_their_companys_audit_trail_and_narrow_it(harness: Harness) -> None:
    owner, other = await harness.sign_up(), await harness.sign_up(company="Outra Empresa")
    filter_like_the_audit_service(harness)
    audit_entry(harness, owner.company_id, "invoice.paid", after={"amount": 4990})
    audit_entry(
        harness,
        owner.company_id,
        "member.invited",
        actor={"kind": "staff", "id": "s-9"},
        before={"role": "viewer"},
        after={"note": "<script>alert(1)</script>"},
    )
    audit_entry(harness, other.company_id, "invoice.refund", entity_id="segredo-da-outra")

    listed = await owner.browser.get("/app/auditoria")
    assert listed.status_code == 200, listed.text
    text = listed.text
    assert text.count('data-entry="') == 2
    assert text.index("invoice.paid") < text.index("member.invited")  # the API's order
    assert "07/12/2026 12:34 UTC" in text and "203.0.113.7" in text and "<code>u-1</code>" in text
    assert "{&#34;amount&#34;:4990}" in text  # compact JSON, escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>alert" not in text
    assert "segredo-da-outra" not in text and "invoice.refund" not in text
    assert 'href="/app/auditoria" aria-current="page"' in text  # in the navigation
    assert 'id="audit-export" href="/api/v1/audit/export?format=csv"' in text
    assert audit_asked(harness)[-1].company_id == owner.company_id

    narrowed = await owner.browser.get(
        "/app/auditoria", params={"action": "invoice.*", "since": "2026-12-01T00:00"}
    )
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.text.count('data-entry="') == 1 and "member.invited" not in narrowed.text
    assert 'value="invoice.*"' in narrowed.text and 'value="2026-12-01T00:00"' in narrowed.text
    params = audit_asked(harness)[-1].payload.params
    assert params["action"] == "invoice.*"
    assert params["since"] == "2026-12-01T00:00:00+00:00"  # the form's time, read as UTC
    export = re.search(r'id="audit-export" href="([^"]+)"', narrowed.text)
    assert export is not None
    link = export.group(1).replace("&amp;", "&")
    assert link == (
        "/api/v1/audit/export?format=csv&action=invoice.%2A&since=2026-12-01T00%3A00%3A00%2B00%3A00"
    )
    exported = await owner.browser.get(link)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "invoice.paid" in exported.text and "member.invited" not in exported.text

    nothing = await owner.browser.get("/app/auditoria", params={"action": "dns.*"})
    assert "Nenhum registro encontrado." in nothing.text and 'data-entry="' not in nothing.text

    # the other company sees its own entry, never the first one's
    theirs = await other.browser.get("/app/auditoria")
    assert theirs.text.count('data-entry="') == 1 and "segredo-da-outra" in theirs.text
    assert "invoice.paid" not in theirs.text and "member.invited" not in theirs.text
    assert audit_asked(harness)[-1].company_id == other.company_id


async def test_the_audit_trail_pages_on_with_its_filters(harness: Harness) -> None:
    owner = await harness.sign_up()
    for n in range(55):
        audit_entry(harness, owner.company_id, "dns.record_added", entity_id=f"rec-{n:02d}")
    first = await owner.browser.get("/app/auditoria", params={"entity": "dns"})
    assert first.text.count('data-entry="') == 50 and "rec-49" in first.text
    found = re.search(r'id="audit-next" href="([^"]+)"', first.text)
    assert found is not None
    following = found.group(1).replace("&amp;", "&")
    assert following == "/app/auditoria?entity=dns&cursor=50"
    second = await owner.browser.get(following)
    assert second.text.count('data-entry="') == 5 and "rec-54" in second.text
    assert "rec-49" not in second.text and 'id="audit-next"' not in second.text
    assert audit_asked(harness)[-1].payload.params["cursor"] == "50"
    assert 'value="dns"' in second.text  # the filters stay in the form


async def test_only_owners_admins_and_acting_auditors_open_the_audit_page(
    harness: Harness,
) -> None:
    owner = await harness.sign_up()
    company = owner.company_id
    assert company is not None
    audit_entry(harness, company, "invoice.refund", entity_id="inv-secreta")
    viewer = await harness.invite(owner, CompanyRole.VIEWER)
    billing = await harness.invite(owner, CompanyRole.BILLING)
    technical = await harness.invite(owner, CompanyRole.TECHNICAL)
    admin = await harness.invite(owner, CompanyRole.ADMIN)
    superadmin, auditor = (
        await harness.staff(StaffRole.SUPERADMIN),
        await harness.staff(StaffRole.AUDITOR),
    )
    for staff in (superadmin, auditor):
        await harness.act_on(staff, company)

    for person in (viewer, billing, technical, superadmin):
        refused = await person.browser.get("/app/auditoria")
        assert refused.status_code == 403, refused.text
        assert "Sem permissão" in refused.text and "inv-secreta" not in refused.text
        nav = (await person.browser.get("/app/notificacoes")).text
        assert 'href="/app/auditoria"' not in nav
    assert audit_asked(harness) == []  # the audit service was not even asked for them

    for person in (owner, admin, auditor):
        seen = await person.browser.get("/app/auditoria")
        assert seen.status_code == 200 and "inv-secreta" in seen.text, seen.text
        assert 'href="/app/auditoria"' in seen.text and 'id="audit-export"' in seen.text
        assert audit_asked(harness)[-1].company_id == company

    # the export link only for those who may export: a token that may only read
    created = await owner.browser.post(
        "/api/v1/company/tokens", json={"name": "Leitura", "permissions": ["audit:read"]}
    )
    assert created.status_code == 201, created.text
    reader = harness.browser(token=created.json()["token"])
    read_only = await reader.get("/app/auditoria")
    assert read_only.status_code == 200 and "inv-secreta" in read_only.text, read_only.text
    assert (
        'id="audit-export"' not in read_only.text and "/api/v1/audit/export" not in read_only.text
    )


async def test_a_bad_audit_filter_is_shown_next_to_its_field(harness: Harness) -> None:
    owner = await harness.sign_up()
    browser = owner.browser
    bad_date = await browser.get("/app/auditoria", params={"since": "ontem", "action": "invoice.*"})
    assert bad_date.status_code == 422
    assert re.search(r'id="f-since-error">Data e hora inválidas', bad_date.text)
    assert 'value="ontem"' in bad_date.text and 'value="invoice.*"' in bad_date.text
    assert "Nenhum registro encontrado." not in bad_date.text  # nothing was looked up
    backwards = await browser.get(
        "/app/auditoria", params={"since": "2026-12-07T10:00", "until": "2026-12-01T10:00"}
    )
    assert backwards.status_code == 422 and 'id="f-until-error"' in backwards.text
    many = await browser.get(
        "/app/auditoria",
        params={"action": "x" * 101, "correlation_id": "nao-e-uuid", "until": "2026-13-01T00:00"},
    )
    assert many.status_code == 422
    assert re.search(r'id="f-action-error">Texto longo demais \(máximo 100\)', many.text)
    assert 'id="f-correlation_id-error">Não é um identificador (UUID) válido.' in many.text
    assert 'id="f-until-error"' in many.text
    english = await browser.get(
        "/app/auditoria", params={"since": "ontem"}, headers={"Accept-Language": "en"}
    )
    assert english.status_code == 422
    assert re.search(r'id="f-since-error">Invalid date and time', english.text)
    assert audit_asked(harness) == []  # no bad filter ever reached the audit service


REPORT_OK = {
    "ok": True,
    "entries": 12,
    "checkpoints": 3,
    "tree_size": 12,
    "root_hash": "ab" * 32,
    "problems": [],
    "summary": "entries: 12 in 2 chains; tree size 12\nOK: every hash, chain link, signature "
    "and consistency proof checks",
}


def answer_log_verify(harness: Harness, report: dict[str, Any]) -> None:
    """The audit service's ``log.verify`` (the stand-in has none): staff only, no company."""
    plain = harness.peers.answer

    def answer(service: str, query: Any) -> QueryReply:
        if (service, query.payload.name) != ("audit", "log.verify"):
            return plain(service, query)
        if query.actor.kind != "staff" or query.company_id is not None:
            return QueryReply(
                ok=False, error=QueryError(code="forbidden", message="só a equipe / staff only")
            )
        return QueryReply(ok=True, data=report)

    harness.peers.answer = answer  # type: ignore[method-assign]


async def test_staff_verify_the_audit_log_from_the_console(harness: Harness) -> None:
    answer_log_verify(harness, REPORT_OK)
    auditor = await harness.staff(StaffRole.AUDITOR)
    console = await auditor.browser.get("/equipe")
    assert 'href="/equipe/auditoria"' in console.text
    form = await auditor.browser.get("/equipe/auditoria")
    assert form.status_code == 200, form.text
    assert 'action="/equipe/auditoria"' in form.text and 'name="verificar" value="1"' in form.text
    assert 'id="audit-report"' not in form.text and audit_asked(harness, "log.verify") == []

    checked = await auditor.browser.get("/equipe/auditoria?verificar=1")
    assert checked.status_code == 200, checked.text
    assert 'id="verify-ok"' in checked.text and 'id="verify-broken"' not in checked.text
    assert 'id="verify-entries">12<' in checked.text
    assert 'id="verify-checkpoints">3<' in checked.text
    asked = audit_asked(harness, "log.verify")[-1]
    assert asked.company_id is None and asked.payload.params == {}

    company = uuid4()
    one = await auditor.browser.get(f"/equipe/auditoria?verificar=1&empresa={company}")
    assert one.status_code == 200 and 'id="verify-ok"' in one.text
    assert audit_asked(harness, "log.verify")[-1].payload.params == {"company": str(company)}
    asked_before = len(audit_asked(harness, "log.verify"))
    bad = await auditor.browser.get("/equipe/auditoria?verificar=1&empresa=nao-e-uuid")
    assert bad.status_code == 422 and 'id="f-empresa-error"' in bad.text
    assert len(audit_asked(harness, "log.verify")) == asked_before

    broken = {
        **REPORT_OK,
        "ok": False,
        "problems": ["ALTERED: hash mismatch (entry e-1, leaf 1)", "REMOVED: leaf 4 is missing"],
        "summary": "BROKEN: 2 problem(s); first: ALTERED: hash mismatch (entry e-1, leaf 1)",
    }
    answer_log_verify(harness, broken)
    failed = await auditor.browser.get("/equipe/auditoria?verificar=1")
    assert 'id="verify-broken"' in failed.text and 'id="verify-ok"' not in failed.text
    assert 'id="verify-first">ALTERED: hash mismatch (entry e-1, leaf 1)<' in failed.text
    assert "REMOVED: leaf 4 is missing" in failed.text

    owner = await harness.sign_up()  # a customer is not staff
    assert (await owner.browser.get("/equipe/auditoria?verificar=1")).status_code == 403
