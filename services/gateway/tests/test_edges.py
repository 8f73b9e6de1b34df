"""The edges of the network: forwarded headers only from trusted proxies, the probe
for staff only, no single-use token in any log, no control characters in free
text, and a limit on asking the payment provider."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from uuid import uuid4

import httpx
import pytest
from gateway_kit import Harness, HarnessFactory, unique_email
from pydantic import ValidationError

from hospeda.devstack.servers import free_port
from hospeda.gateway.config import GatewaySettings
from hospeda.gateway.permissions import StaffRole
from hospeda.runtime.settings import InsecureSettings


async def _wrong_logins_from(browser, addresses: list[str]) -> list[int]:  # type: ignore[no-untyped-def]
    return [
        (
            await browser.post(
                "/api/v1/auth/login",
                json={"email": unique_email("alvo"), "password": "x"},
                headers={"X-Forwarded-For": address},
            )
        ).status_code
        for address in addresses
    ]


SPOOFED = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]


async def test_an_untrusted_client_cannot_choose_its_address(make_harness: HarnessFactory) -> None:
    harness = await make_harness(login_max_failures_per_ip=3)  # no trusted proxy
    statuses = await _wrong_logins_from(harness.browser(), SPOOFED)
    assert statuses == [401, 401, 401, 429]  # one address: 127.0.0.1, whatever it claims


async def test_a_trusted_proxy_passes_the_client_address(make_harness: HarnessFactory) -> None:
    harness = await make_harness(login_max_failures_per_ip=3, trusted_proxies="127.0.0.0/8")
    statuses = await _wrong_logins_from(harness.browser(), SPOOFED)
    assert statuses == [401] * 4  # four clients behind the proxy


def test_production_requires_the_trusted_proxies_setting() -> None:
    with pytest.raises(ValidationError, match="does not appear to be an IPv4 or IPv6"):
        GatewaySettings(trusted_proxies="not-a-cidr")
    settings = GatewaySettings(HOSPEDA_ENV="test")
    assert any("GATEWAY_TRUSTED_PROXIES" in p for p in settings.insecure_settings())
    explicit = GatewaySettings(HOSPEDA_ENV="test", trusted_proxies="10.250.0.2/32")
    assert not any("GATEWAY_TRUSTED_PROXIES" in p for p in explicit.insecure_settings())
    assert InsecureSettings  # production refuses to start on any of these


async def test_probes_need_a_staff_member_and_are_limited(harness: Harness) -> None:
    anonymous = await harness.browser().post("/api/v1/ops/probes")
    assert anonymous.status_code == 401
    owner = await harness.sign_up()
    assert (await owner.browser.post("/api/v1/ops/probes")).status_code == 403
    staff = await harness.staff(StaffRole.SUPPORT)
    statuses = [(await staff.browser.post("/api/v1/ops/probes")).status_code for _ in range(7)]
    assert statuses == [202] * 6 + [429]


async def test_confirm_payment_is_limited_per_invoice(harness: Harness) -> None:
    owner = await harness.sign_up()
    invoice = str(uuid4())
    harness.peers.add("invoices", owner.company_id, invoice_id=invoice, status="open")
    body = {"payment_intent_id": "pi_3Exemplo"}
    url = f"/api/v1/invoices/{invoice}/confirm-payment"
    statuses = [(await owner.browser.post(url, json=body)).status_code for _ in range(6)]
    assert statuses == [202] * 5 + [429]


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (
            "/api/v1/auth/signup",
            {
                "company_name": "Padaria",
                "name": "Maria\r\nBcc: todos@exemplo.com",
                "email": "x@exemplo.com.br",
                "password": "cavalo-correto-bateria-grampo",
            },
        ),
        ("/api/v1/company/tokens", {"name": "CI\x00", "permissions": ["company:read"]}),
    ],
)
async def test_control_characters_are_refused(harness: Harness, url: str, body: dict) -> None:  # type: ignore[type-arg]
    owner = await harness.sign_up()
    for language, words in (("pt-BR", "Caracteres de controle"), ("en", "Control characters")):
        refused = await owner.browser.post(url, json=body, headers={"Accept-Language": language})
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert words in refused.text
    renamed = await owner.browser.patch("/api/v1/company", json={"name": "Pão\nQuente"})
    assert renamed.status_code == 422


async def test_single_use_tokens_never_reach_the_access_log(
    database_url: str, kafka_bootstrap: str, redis_url: str
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "HOSPEDA_ENV": "test",
        "HOSPEDA_LOG_LEVEL": "INFO",
        "HOSPEDA_LOG_JSON": "false",
        "HOSPEDA_TOPIC_PARTITIONS": "1",
        "GATEWAY_PORT": str(port),
        "GATEWAY_ARGON2_TIME_COST": "1",
        "GATEWAY_ARGON2_MEMORY_KIB": "1024",
        "GATEWAY_ARGON2_PARALLELISM": "1",
    }
    process = await asyncio.create_subprocess_exec(  # the real process, as `make run` starts it
        sys.executable,
        "-m",
        "hospeda.gateway",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    secret = "segredo-de-uso-unico-" + uuid4().hex
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.returncode is None, "the gateway stopped while starting"
                assert time.monotonic() < deadline, "the gateway did not start"
                await asyncio.sleep(0.2)
            page = await client.get(f"/conta/redefinir-senha?token={secret}")
            assert page.status_code == 200
            await client.get(f"/api/v1/ops/probes/{uuid4()}?token={secret}")
    finally:
        process.terminate()
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    log = output.decode(errors="replace")
    assert "/conta/redefinir-senha" in log  # the request was logged ...
    assert secret not in log  # ... without its token
