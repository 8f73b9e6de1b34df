"""What the gateway can ask: services (per company), the last job with its
step log, jobs, and — for staff — the server inventory."""

from __future__ import annotations

import pytest
from provisioning_kit import (
    STAFF,
    Bus,
    Whm,
    create_command,
    make_settings,
    running,
    wait_state,
)

from hospeda.contracts import new_id
from hospeda.contracts.provisioning import EnableAddon
from hospeda.runtime.errors import QueryFailed


async def test_services_are_listed_and_read_per_company_and_servers_by_staff_only(
    whm: Whm, bus: Bus, database_url: str, kafka_bootstrap: str
) -> None:
    settings = make_settings(database_url, kafka_bootstrap, [whm.settings()])
    ours, theirs = new_id(), new_id()
    async with running(settings) as app:
        mine = [create_command(f"loja{i}.com.br") for i in range(3)]
        other = create_command("vizinho.com.br")
        for command in mine:
            await bus.send(command, company_id=ours)
        await bus.send(other, company_id=theirs)
        await bus.send(
            EnableAddon(service_id=mine[0].service_id, addon_code="seguranca"), company_id=ours
        )
        for command in (*mine, other):
            await wait_state(app, command.service_id, "active")

        first = await bus.ask("services.list", {"limit": 2}, company_id=ours)
        assert len(first["items"]) == 2 and first["next_cursor"]
        rest = await bus.ask(
            "services.list", {"limit": 2, "cursor": first["next_cursor"]}, company_id=ours
        )
        assert rest["next_cursor"] is None
        items = first["items"] + rest["items"]
        assert sorted(i["domain"] for i in items) == [
            "loja0.com.br",
            "loja1.com.br",
            "loja2.com.br",
        ]
        created = [i["created_at"] for i in items]
        assert created == sorted(created, reverse=True)  # newest first
        assert (await bus.ask("services.list", {"status": "suspended"}, company_id=ours))[
            "items"
        ] == []
        active = await bus.ask("services.list", {"state": "active"}, company_id=ours)
        assert len(active["items"]) == 3
        everything = await bus.ask("services.list", {}, company_id=None, actor=STAFF)
        assert len(everything["items"]) == 4
        with pytest.raises(QueryFailed) as refused:
            await bus.ask("services.list", {}, company_id=None)
        assert refused.value.code == "forbidden"

        async def security_on() -> bool:
            got = await bus.ask(
                "services.get", {"service_id": str(mine[0].service_id)}, company_id=ours
            )
            on = [a["code"] for a in got["addons"] if a["state"] == "active"] == ["seguranca"]
            return on and got["last_job"]["state"] == "succeeded"

        from hospeda.devstack.testing import eventually

        await eventually(security_on, message="the security add-on to show")
        service = await bus.ask(
            "services.get", {"service_id": str(mine[0].service_id)}, company_id=ours
        )
        assert service["state"] == "active" and service["domain"] == "loja0.com.br"
        assert (
            service["server"] == "whm1"
            and service["username"] == "loja0"
            and service["ip"] == "192.0.2.10"
        )
        job = service["last_job"]
        assert job["kind"] == "enable-addon" and job["state"] == "succeeded"
        assert [
            line["step"] for line in job["log"] if line["status"] == "succeeded" and line["step"]
        ] == [
            "validate",
            "addon.seguranca.enable",
        ]
        with pytest.raises(
            QueryFailed
        ) as hidden:  # another company's service does not exist for us
            await bus.ask("services.get", {"service_id": str(other.service_id)}, company_id=ours)
        assert hidden.value.code == "not_found"

        jobs = await bus.ask("jobs.list", {}, company_id=ours)
        assert len(jobs) == 4 and all(j["kind"] in ("create-account", "enable-addon") for j in jobs)

        with pytest.raises(QueryFailed) as staff_only:
            await bus.ask("servers.list", {}, company_id=ours)
        assert staff_only.value.code == "forbidden"
        servers = await bus.ask("servers.list", {}, company_id=None, actor=STAFF)
        [server] = servers["items"]
        assert server["name"] == "whm1" and server["accounts"] == 4 and server["free"] == 96
        assert server["active"] is True and "hospeda_basico" in server["packages"]
        assert whm.token not in str(servers) and "token" not in str(sorted(server))
