"""The WHM simulator is an honest stand-in: it speaks WHM API 1 and UAPI over
HTTP, checks the token, validates like WHM, keeps state, and fails on demand."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from provisioning_kit import Whm
from pydantic import SecretStr

from hospeda.devstack.servers import free_port, wait_for_port
from hospeda.provisioning.adapters.whm import (
    WhmAuthFailed,
    WhmBusy,
    WhmClient,
    WhmRefused,
    WhmTimeout,
    WhmUnavailable,
)
from hospeda.provisioning.simulator import WhmState

PASSWORD = "Xy7!longEnough"


@pytest.fixture
async def client(whm: Whm) -> AsyncIterator[WhmClient]:
    whm_client = WhmClient(
        server=whm.name,
        url=whm.url,
        user="root",
        token=SecretStr(whm.token),
        timeout=2,
        create_timeout=0.3,
    )
    yield whm_client
    await whm_client.aclose()


async def create(
    client: WhmClient, user: str = "exemplo", domain: str = "exemplo.com.br", **extra: str
) -> None:
    await client.create_account(
        username=user,
        domain=domain,
        package=extra.get("package", "default"),
        contact_email="dono@exemplo.com.br",
        password=extra.get("password", PASSWORD),
    )


async def test_it_checks_the_token_and_the_api_version(whm: Whm) -> None:
    wrong = WhmClient(server=whm.name, url=whm.url, user="root", token=SecretStr("wrong"))
    with pytest.raises(WhmAuthFailed, match="recusou as credenciais"):
        await wrong.packages()
    await wrong.aclose()
    async with httpx.AsyncClient() as http:
        answer = await http.get(
            f"{whm.url}/json-api/listpkgs", headers={"Authorization": f"whm root:{whm.token}"}
        )
    assert answer.status_code == 200
    assert answer.json()["metadata"]["result"] == 0
    assert "api.version=1" in answer.json()["metadata"]["reason"]


@pytest.mark.parametrize(
    ("user", "domain", "reason"),
    [
        ("1loja", "loja.com.br", "must begin with a letter"),
        ("loja_1", "loja.com.br", "only lowercase letters and digits"),
        ("testeloja", "loja.com.br", "may not begin with “test”"),
        ("lojacomnomemuitolongo", "loja.com.br", "may not exceed 16 characters"),
        ("cpanel", "loja.com.br", "reserved"),
        ("loja", "loja com.br", "not a valid domain"),
    ],
)
async def test_it_validates_new_accounts_like_whm(
    client: WhmClient, user: str, domain: str, reason: str
) -> None:
    with pytest.raises(WhmRefused, match=reason):
        await create(client, user, domain)


async def test_it_refuses_duplicates_weak_passwords_and_unknown_packages(
    client: WhmClient, whm: Whm
) -> None:
    await create(client, "Exemplo")  # WHM lower-cases usernames
    assert list(await whm.accounts()) == ["exemplo"]
    with pytest.raises(WhmRefused, match="already exists"):
        await create(client, "exemplo", "outro.com.br")
    await create(client, "lojadaan", "loja-da-ana.com.br")
    with pytest.raises(WhmRefused, match="first eight characters"):
        await create(client, "lojadaana", "outro.com.br")
    with pytest.raises(WhmRefused, match="already exists in the userdata"):
        await create(client, "outro", "exemplo.com.br")
    with pytest.raises(WhmRefused, match="does not exist"):
        await create(client, "outro", "outro.com.br", package="ouro")
    with pytest.raises(WhmRefused, match="too weak"):
        await create(client, "outro", "outro.com.br", password="123")
    assert sorted(await whm.accounts()) == ["exemplo", "lojadaan"]


async def test_uapi_functions_run_inside_the_account_with_cpanels_rules(
    client: WhmClient, whm: Whm
) -> None:
    await create(client)
    with pytest.raises(WhmRefused, match="must begin with the prefix “exemplo_”"):
        await client.create_database("exemplo", "loja")
    await client.create_database("exemplo", "exemplo_loja")
    with pytest.raises(WhmRefused, match="already exists"):
        await client.create_database("exemplo", "exemplo_loja")
    with pytest.raises(WhmRefused, match="does not belong to the account"):
        await client.add_mailbox(
            "exemplo", local="contato", domain="outro.com.br", password=PASSWORD, quota_mb=10
        )
    await client.add_mailbox(
        "exemplo", local="contato", domain="exemplo.com.br", password=PASSWORD, quota_mb=10
    )
    assert await client.mailboxes("exemplo") == ["contato@exemplo.com.br"]
    with pytest.raises(WhmRefused, match="does not exist"):
        await client.databases("ninguem")


async def test_autossl_issues_a_certificate_unless_validation_fails(
    client: WhmClient, whm: Whm
) -> None:
    await create(client)
    await create(client, "outro", "outro.com.br")
    await whm.control.dcv("outro.com.br", failing=True)
    for user in ("exemplo", "outro"):
        await client.start_autossl(user)
        assert await client.autossl_in_progress(user)
    for user in ("exemplo", "outro"):
        while await client.autossl_in_progress(user):
            await asyncio.sleep(0.02)
    assert await client.secured_hosts("exemplo") == {"exemplo.com.br", "www.exemplo.com.br"}
    assert await client.secured_hosts("outro") == set()
    [problem] = await client.autossl_problems("outro")
    assert "does not resolve to this server" in problem["problem"]


async def test_faults_on_demand(client: WhmClient, whm: Whm) -> None:
    await whm.control.fault("listpkgs", "error", status=502)
    with pytest.raises(WhmUnavailable, match="HTTP 502"):
        await client.packages()
    await whm.control.fault("listpkgs", "refuse", reason="Unable to acquire a lock; try again.")
    with pytest.raises(WhmBusy, match="lock"):
        await client.packages()
    await whm.control.fault("listpkgs", "refuse", reason="Access to this function is disabled.")
    with pytest.raises(WhmRefused, match="disabled"):
        await client.packages()
    await whm.control.fault("createacct", "timeout", delay=2)
    with pytest.raises(WhmTimeout):
        await create(client)
    assert await whm.accounts() == {}  # no answer, and nothing done
    await whm.control.fault("createacct", "timeout", delay=2, after=True)
    with pytest.raises(WhmTimeout):
        await create(client)
    assert list(await whm.accounts()) == ["exemplo"]  # no answer, but done
    await whm.control.fault("Mysql::create_database", "refuse", reason="The MySQL server is gone.")
    with pytest.raises(WhmRefused, match="MySQL server is gone"):
        await client.create_database("exemplo", "exemplo_site")
    await whm.control.fault("listpkgs", "slow", delay=0.1)
    assert "default" in await client.packages()  # slow, but it answers
    assert await client.packages()  # faults are used up
    calls = await whm.control.calls()
    assert calls["listpkgs"] == 5 and calls["createacct"] == 2


async def test_login_links_work_once(client: WhmClient) -> None:
    await create(client)
    url, _expires = await client.create_session("exemplo")
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).status_code == 200
        assert (await http.get(url)).status_code == 401


def test_state_survives_a_restart(tmp_path: Path) -> None:
    from hospeda.provisioning.simulator.whm import Account

    state = WhmState()
    state.accounts["exemplo"] = Account(
        user="exemplo",
        domain="exemplo.com.br",
        plan="default",
        email="",
        ip="192.0.2.10",
        password=PASSWORD,
        startdate=0,
    )
    state.save(tmp_path / "whm.json")
    assert PASSWORD not in (tmp_path / "whm.json").read_text()
    again = WhmState.load(tmp_path / "whm.json")
    assert again.accounts["exemplo"].domain == "exemplo.com.br"


async def test_it_runs_as_its_own_process(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, waited for in a thread
        [
            sys.executable,
            "-m",
            "hospeda.provisioning.simulator",
            "--port",
            str(port),
            "--token",
            "t0ken",
            "--packages",
            "hospeda_basico",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        await asyncio.to_thread(wait_for_port, "127.0.0.1", port, timeout=20, process=process)
        client = WhmClient(
            server="p", url=f"http://127.0.0.1:{port}", user="root", token=SecretStr("t0ken")
        )
        assert await client.packages() == ["hospeda_basico"]
        await client.aclose()
    finally:
        process.terminate()
        process.wait(10)
