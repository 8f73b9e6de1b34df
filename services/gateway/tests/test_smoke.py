import json
from pathlib import Path

from gateway_kit import Harness, expect

SCHEMAS = Path(__file__).resolve().parents[3] / "libs" / "contracts" / "schemas"


async def test_sign_up_and_see_myself(harness: Harness) -> None:
    owner = await harness.sign_up()
    me = expect(await owner.browser.get("/api/v1/me"), 200)
    assert me["role"] == "owner"


async def test_partners_read_the_events_guide_and_the_published_schemas(harness: Harness) -> None:
    committed = SCHEMAS
    browser = harness.browser()  # nobody signed in: the guide is public
    guide = await browser.get("/docs/eventos")
    assert guide.status_code == 200 and "Como assinar" in guide.text
    assert "billing.invoice.v1" in guide.text and "billing.commands.v1" not in guide.text
    assert "session.timeout.ms=6000" in guide.text
    assert "Content-Security-Policy" in guide.headers
    name = "billing.invoice.paid.v1.json"
    assert f'href="/docs/schemas/{name}"' in guide.text
    served = await browser.get(f"/docs/schemas/{name}")
    assert served.status_code == 200
    assert served.json() == json.loads((committed / "messages" / name).read_text())
    asyncapi = await browser.get("/docs/asyncapi.json")
    assert asyncapi.json() == json.loads((committed / "asyncapi.json").read_text())
    assert (await browser.get("/docs/schemas/nada.v1.json")).status_code == 404


async def test_every_answer_carries_the_security_headers(harness: Harness) -> None:
    from hospeda.gateway.headers import API_CSP, PAGE_CSP

    browser = harness.browser()
    page = await browser.get("/entrar")
    assert page.headers["content-security-policy"] == PAGE_CSP
    assert "script-src 'self'" in PAGE_CSP and "unsafe-inline" not in PAGE_CSP
    api = await browser.get("/api/v1/me")  # a problem answer (not signed in)
    assert api.status_code == 401 and api.headers["content-security-policy"] == API_CSP
    for answer in (page, api):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "camera=()" in answer.headers["permissions-policy"]
