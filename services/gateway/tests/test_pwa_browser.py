"""The installable app in a real browser: Debian's Chromium (headless) driven by
Playwright against the real gateway on http://localhost (a secure context, so
passkeys and service workers work without TLS).

- passkeys: a CDP virtual authenticator (CTAP2, resident keys, user
  verification) registers in the account page's ``#passkeys`` and signs in with
  the login page's button; an answer without user verification is refused by
  the server;
- the manifest and service worker make it installable (no installability errors);
- offline, a read-only page shows its last copy with "dados de HH:MM", other
  pages show the offline page, and signing out drops the copies;
- a new service worker waits for the update banner;
- a push delivered to the service worker shows a notification.

The pages' hooks (``#passkeys``, ``#email`` + ``#passkey-login``) are the contract
with the templates; where a page is not needed for what is tested, the hook is
put on ``/offline`` (a page of ours, with ``pwa.js``) and ``passkeys.js`` loaded.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from gateway_kit import PASSWORD, Harness, HarnessFactory, expect
from playwright.async_api import BrowserContext, Page, Route, async_playwright

from hospeda.devstack.servers import free_port
from hospeda.gateway.web import pwa

pytestmark = pytest.mark.timeout(180)

LOGIN_HOOKS = """
const main = document.getElementById('main');
main.replaceChildren();
main.insertAdjacentHTML('beforeend',
  '<label for="email">E-mail</label><input id="email" type="email" autocomplete="username webauthn">' +
  '<button type="button" id="passkey-login" hidden>Entrar com biometria</button>');
"""
ACCOUNT_HOOKS = """
const main = document.getElementById('main');
main.replaceChildren();
main.insertAdjacentHTML('beforeend', '<section id="passkeys"></section>');
"""


def chromium_path() -> str:
    found = shutil.which("chromium")
    assert found, "Debian's chromium is not installed (make install installs it)"
    return found


@pytest.fixture
async def site(make_harness: HarnessFactory) -> Harness:
    """The gateway on http://localhost:<port>, the origin and RP ID of its passkeys."""
    port = free_port()
    return await make_harness(
        port=port,
        public_url=f"http://localhost:{port}",
        webauthn_rp_id="localhost",
        webauthn_origins=f"http://localhost:{port}",
    )


def local(site: Harness, path: str = "") -> str:
    return f"http://localhost:{site.server.port}{path}"


Opened = Callable[..., Awaitable[tuple[BrowserContext, Page]]]


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Opened]:
    """Open a persistent Chromium context (what installability needs)."""
    contexts: list[BrowserContext] = []
    async with async_playwright() as playwright:

        async def open_context(**options: Any) -> tuple[BrowserContext, Page]:
            context = await playwright.chromium.launch_persistent_context(
                str(tmp_path / f"profile-{len(contexts)}"),
                executable_path=chromium_path(),
                headless=True,
                locale="pt-BR",
                **options,
            )
            contexts.append(context)
            page = context.pages[0] if context.pages else await context.new_page()
            return context, page

        yield open_context
        for context in contexts:
            await context.close()


async def sign_in(page: Page, email: str) -> None:
    """Sign in from the page itself (the browser keeps the cookies, as after the login form)."""
    status = await page.evaluate(
        """async ([email, password]) => (await fetch('/api/v1/auth/login', {method: 'POST',
             headers: {'Content-Type': 'application/json'}, body: JSON.stringify({email, password})})).status""",
        [email, PASSWORD],
    )
    assert status == 200


async def me_status(page: Page) -> int:
    status: int = await page.evaluate("async () => (await fetch('/api/v1/me')).status")
    return status


async def with_hooks(page: Page, hooks: str) -> None:
    await page.evaluate(hooks)
    await page.evaluate("import('/static/js/passkeys.js')")


async def virtual_authenticator(
    page: Page, *, verified: bool = True, capable: bool = True, cdp: Any = None
) -> Any:
    if cdp is None:
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("WebAuthn.enable", {"enableUI": False})
    added = await cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": capable,
                "isUserVerified": verified,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


async def register_passkey(page: Page, name: str) -> None:
    await with_hooks(page, ACCOUNT_HOOKS)
    await page.fill("#passkey-name", name)
    await page.click("#passkey-add")
    await page.wait_for_function(
        "() => document.getElementById('passkeys-status').textContent.includes('adicionada')"
    )


NO_AUTOFILL = "PublicKeyCredential.isConditionalMediationAvailable = async () => false;"


async def test_passkey_registration_and_sign_in(site: Harness, browser: Opened) -> None:
    maria = await site.sign_up(login=False)
    context, page = await browser()
    await context.add_init_script(NO_AUTOFILL)  # the button, not the e-mail field's autofill
    cdp, authenticator = await virtual_authenticator(page)
    await page.goto(local(site, "/offline"))
    await sign_in(page, maria.email)

    await register_passkey(page, "Notebook da Maria")
    items = page.locator("#passkeys-list li[data-id]")
    await items.first.wait_for()
    assert "Notebook da Maria" in await items.first.inner_text()
    credentials = await cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert [c["isResidentCredential"] for c in credentials["credentials"]] == [True]

    # rename in the list
    await page.click("#passkeys-list button[data-action=rename]")
    await page.fill("#passkeys-list input", "Notebook do escritório")
    await page.click("#passkeys-list button[type=submit]")
    await page.wait_for_function(
        "() => document.getElementById('passkeys-list').textContent.includes('Notebook do escritório')"
    )

    # signed out, back with the passkey: the login page's button
    await context.clear_cookies()
    assert await me_status(page) == 401
    await page.goto(local(site, "/offline?next=/offline%3Fentrou"))
    await with_hooks(page, LOGIN_HOOKS)
    await page.locator("#passkey-login").wait_for(state="visible")
    await page.click("#passkey-login")
    await page.wait_for_url(lambda url: urlsplit(url).query == "entrou")
    me = await page.evaluate("async () => (await fetch('/api/v1/me')).json()")
    assert me["email"] == maria.email

    listed = await page.evaluate("async () => (await fetch('/api/v1/me/passkeys')).json()")
    assert [p["name"] for p in listed["items"]] == ["Notebook do escritório"]
    assert listed["items"][0]["last_used_at"] is not None


async def test_an_answer_without_user_verification_is_refused(
    site: Harness, browser: Opened
) -> None:
    maria = await site.sign_up(login=False)
    _, page = await browser()
    cdp, authenticator = await virtual_authenticator(page, verified=False)
    await page.goto(local(site, "/offline"))
    await sign_in(page, maria.email)

    # the browser itself refuses to make a passkey it cannot verify
    await with_hooks(page, ACCOUNT_HOOKS)
    await page.click("#passkey-add")
    await page.wait_for_function(
        "() => document.getElementById('passkeys-status').classList.contains('pwa-error')"
    )
    listed = await page.evaluate("async () => (await fetch('/api/v1/me/passkeys')).json()")
    assert listed["items"] == []

    # a page that asks for less (say, one that tampered with the options): a security
    # key that cannot verify anyone answers, and the server refuses
    await cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": authenticator})
    await virtual_authenticator(page, verified=False, capable=False, cdp=cdp)

    async def ask_less(route: Route) -> None:
        response = await route.fetch()
        body = await response.json()
        key = body["publicKey"]
        key["userVerification"] = "discouraged"
        if "authenticatorSelection" in key:
            key["authenticatorSelection"]["userVerification"] = "discouraged"
        await route.fulfill(response=response, json=body)

    await page.route("**/api/v1/me/passkeys/options", ask_less)
    await page.route("**/api/v1/auth/passkeys/login/options", ask_less)
    await page.evaluate("document.getElementById('passkeys-status').classList.remove('pwa-error')")
    await page.click("#passkey-add")
    await page.wait_for_function(
        "() => document.getElementById('passkeys-status').classList.contains('pwa-error')"
    )
    refusal = await page.inner_text("#passkeys-status")
    assert "biometria ou bloqueio de tela" in refusal, refusal
    listed = await page.evaluate("async () => (await fetch('/api/v1/me/passkeys')).json()")
    assert listed["items"] == []


async def test_sign_in_without_user_verification_is_refused(site: Harness, browser: Opened) -> None:
    maria = await site.sign_up(login=False)
    context, page = await browser()
    cdp, authenticator = await virtual_authenticator(page)
    await page.goto(local(site, "/offline"))
    await sign_in(page, maria.email)
    await register_passkey(page, "Celular")

    await context.clear_cookies()
    await cdp.send(
        "WebAuthn.setUserVerified", {"authenticatorId": authenticator, "isUserVerified": False}
    )

    async def ask_less(route: Route) -> None:
        response = await route.fetch()
        body = await response.json()
        body["publicKey"]["userVerification"] = "discouraged"
        await route.fulfill(response=response, json=body)

    await page.route("**/api/v1/auth/passkeys/login/options", ask_less)
    await page.goto(local(site, "/offline"))
    await with_hooks(page, LOGIN_HOOKS)
    await page.click("#passkey-login")
    await page.wait_for_function(
        "() => document.getElementById('passkey-status').textContent.includes('Não conseguimos')"
    )
    assert "pwa-error" in (await page.get_attribute("#passkey-status", "class") or "")
    assert await me_status(page) == 401


async def wait_for_service_worker(page: Page) -> None:
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await page.wait_for_function("() => navigator.serviceWorker.controller !== null")


async def test_the_app_is_installable(site: Harness, browser: Opened) -> None:
    _, page = await browser()
    await page.goto(local(site, "/offline"))
    await wait_for_service_worker(page)
    await page.reload()
    manifest = await page.evaluate("async () => (await fetch('/manifest.webmanifest')).json()")
    assert manifest["display"] == "standalone" and manifest["lang"] == "pt-BR"
    assert {s["name"] for s in manifest["shortcuts"]} == {"Faturas", "Serviços"}
    cdp = await page.context.new_cdp_session(page)
    errors = await cdp.send("Page.getInstallabilityErrors")
    assert errors["installabilityErrors"] == []
    app_manifest = await cdp.send("Page.getAppManifest")
    assert app_manifest.get("errors", []) == [], app_manifest["errors"]


async def test_manifest_screenshots_are_the_real_pages(site: Harness, browser: Opened) -> None:
    """The manifest's screenshots, taken from the login page at its two sizes;
    ``HOSPEDA_UPDATE_SCREENSHOTS=1`` writes them over the committed ones."""
    _, page = await browser()
    for form_factor, (width, height) in {"narrow": (390, 844), "wide": (1280, 800)}.items():
        await page.set_viewport_size({"width": width, "height": height})
        await page.goto(local(site, "/entrar"))
        shot = await page.screenshot()
        assert shot[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", shot[16:24]) == (width, height)
        if os.environ.get("HOSPEDA_UPDATE_SCREENSHOTS"):
            (pwa.STATIC / "img" / f"screenshot-{form_factor}.png").write_bytes(shot)


async def test_sw_headers(site: Harness) -> None:
    browser = site.browser()
    answer = await browser.get("/sw.js")
    assert answer.status_code == 200
    assert answer.headers["service-worker-allowed"] == "/"
    assert answer.headers["cache-control"] == "no-cache"
    assert "__VERSION__" not in answer.text and "hospeda-pages-" in answer.text
    assert answer.headers["content-type"].startswith("text/javascript")
    manifest = expect(await browser.get("/manifest.webmanifest"), 200)
    for icon in manifest["icons"] + manifest["screenshots"]:
        assert (await browser.get(icon["src"])).status_code == 200, icon["src"]


async def test_a_new_version_waits_for_the_update_banner(
    site: Harness, browser: Opened, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, page = await browser()
    await page.goto(local(site, "/offline"))
    await wait_for_service_worker(page)
    first = await page.evaluate("(async () => (await caches.keys()).sort())()")

    # the static files changed: the server's worker has a new version
    monkeypatch.setattr(pwa, "static_version", lambda: "next-version")
    await page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
    update = page.locator("#pwa-banner #pwa-update")
    await update.wait_for(state="visible")
    assert "nova versão" in await page.inner_text("#pwa-banner")
    assert await page.evaluate("(async () => (await caches.keys()).sort())()") != []
    async with page.expect_event("load"):
        await update.click()
    await wait_for_service_worker(page)
    names = await page.evaluate("(async () => (await caches.keys()).sort())()")
    assert names and all("next-" in name for name in names), (first, names)


async def test_a_push_shows_a_notification(site: Harness, browser: Opened) -> None:
    context, page = await browser()
    await context.grant_permissions(["notifications"], origin=local(site))
    cdp = await context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    await cdp.send("ServiceWorker.enable")
    await page.goto(local(site, "/offline"))
    await wait_for_service_worker(page)
    deadline = time.monotonic() + 20
    while not any(r["scopeURL"] == local(site, "/") for r in registrations):
        assert time.monotonic() < deadline, registrations
        await page.wait_for_timeout(100)
    registration = next(r for r in registrations if r["scopeURL"] == local(site, "/"))
    push = {
        "title": "Fatura paga",
        "body": "Recebemos o pagamento da fatura #42.",
        "url": "/app/faturas",
        "tag": "invoice-42",
        "urgency": "normal",
    }
    await cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": local(site),
            "registrationId": registration["registrationId"],
            "data": json.dumps(push, ensure_ascii=False),
        },
    )
    shown: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while not shown:  # the worker shows it when the push event is handled
        assert time.monotonic() < deadline, "no notification shown"
        await page.wait_for_timeout(100)
        shown = await page.evaluate(
            """async () => (await (await navigator.serviceWorker.ready).getNotifications())
                 .map((n) => ({title: n.title, body: n.body, tag: n.tag, url: n.data.url}))"""
        )
    assert shown == [
        {
            "title": "Fatura paga",
            "body": "Recebemos o pagamento da fatura #42.",
            "tag": "invoice-42",
            "url": "/app/faturas",
        }
    ]


async def test_passkeys_on_the_account_and_login_pages(site: Harness, browser: Opened) -> None:
    maria = await site.sign_up(login=False)
    context, page = await browser()
    await virtual_authenticator(page)
    await page.goto(local(site, "/entrar"))
    await sign_in(page, maria.email)

    await page.goto(local(site, "/app/seguranca"))
    await page.fill("#passkey-name", "Celular da Maria")
    await page.click("#passkey-add")
    await page.locator("#passkeys-list li[data-id]").first.wait_for()
    assert "Celular da Maria" in await page.inner_text("#passkeys-list")

    # signed out: the login page's e-mail field offers the passkey (conditional
    # mediation; the virtual authenticator picks it as a person would in the autofill)
    await context.clear_cookies()
    await page.goto(local(site, "/entrar?next=/app/seguranca"))
    assert await page.get_attribute("#email", "autocomplete") == "username webauthn"
    await page.wait_for_url(lambda url: urlsplit(url).path == "/app/seguranca")
    assert await me_status(page) == 200


async def test_offline_pages(site: Harness, browser: Opened) -> None:
    maria = await site.sign_up(login=False)
    context, page = await browser()
    await page.goto(local(site, "/entrar"))
    await wait_for_service_worker(page)
    await sign_in(page, maria.email)
    await page.goto(local(site, "/app/servicos"))  # fetched through the worker: kept
    heading = await page.inner_text("h1")
    await page.goto(local(site, "/app/seguranca"))  # not on the list: never kept

    await context.set_offline(True)
    await page.goto(local(site, "/app/servicos"))
    badge = page.locator("#pwa-cached")
    await badge.wait_for()
    assert "Sem conexão — dados de" in await badge.inner_text()
    assert await page.inner_text("h1") == heading
    await page.goto(local(site, "/app/seguranca"))
    assert await page.inner_text("h1") == "Sem conexão"
    assert "/app/servicos" in await page.inner_text("#offline-pages")
    await page.goto(local(site, "/entrar"))
    assert await page.inner_text("h1") == "Sem conexão"

    # back online, signing out drops this person's copies
    await context.set_offline(False)
    await page.goto(local(site, "/app/servicos"))
    async with page.expect_navigation():
        await page.click("form.logout button")
    deadline = time.monotonic() + 10
    while True:
        kept = await page.evaluate(
            """async () => { const out = [];
                 for (const name of await caches.keys()) if (name.startsWith('hospeda-pages-'))
                   out.push(...(await (await caches.open(name)).keys()).map((r) => r.url));
                 return out; }"""
        )
        if not kept:
            break
        assert time.monotonic() < deadline, kept
        await page.wait_for_timeout(100)


async def test_push_is_offered_only_after_a_click(site: Harness, browser: Opened) -> None:
    maria = await site.sign_up(login=False)
    _, page = await browser()
    await page.goto(local(site, "/entrar"))
    await sign_in(page, maria.email)
    await page.goto(local(site, "/app/notificacoes/preferencias"))
    await page.locator("#push-optin #push-subscribe").wait_for(state="visible")
    # nothing asked on page load: the permission is still the browser's default
    assert await page.evaluate("Notification.permission") == "default"


IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


async def test_ios_safari_is_told_to_add_the_app_to_the_home_screen(
    site: Harness, browser: Opened
) -> None:
    maria = await site.sign_up(login=False)
    context, page = await browser(user_agent=IPHONE)
    # Safari outside an installed app has no web push
    await context.add_init_script("delete window.PushManager;")
    await page.goto(local(site, "/entrar"))
    await sign_in(page, maria.email)
    await page.goto(local(site, "/app/notificacoes/preferencias"))
    help_box = page.locator("#ios-install-help")
    await help_box.wait_for(state="visible")
    assert "Adicionar à Tela de Início" in await help_box.inner_text()


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; frame-ancestors 'none'"
)


async def test_the_scripts_run_under_the_strict_content_security_policy(
    site: Harness, browser: Opened
) -> None:
    maria = await site.sign_up(login=False)
    context, page = await browser(service_workers="block")  # every answer through the route
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )

    async def with_csp(route: Route) -> None:
        response = await route.fetch()
        await route.fulfill(
            response=response, headers={**response.headers, "content-security-policy": CSP}
        )

    await context.route("**/*", with_csp)
    await page.goto(local(site, "/entrar"))
    await page.locator("#passkey-login").wait_for(state="visible")
    await sign_in(page, maria.email)
    for path, ready in (
        ("/app/seguranca", "#passkey-add"),
        ("/app/notificacoes/preferencias", "#push-optin h2"),
        ("/offline", "#offline-pages"),
    ):
        await page.goto(local(site, path))
        await page.locator(ready).wait_for(state="attached")
    assert violations == []
