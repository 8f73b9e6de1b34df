"""Input that can never be provisioned fails at once — no retries, no call to
WHM — with a reason the customer and the operator can act on."""

from __future__ import annotations

from provisioning_kit import (
    Bus,
    Whm,
    create_command,
    job_log,
    make_settings,
    running,
    service_row,
    wait_job,
    wait_state,
    watching,
)

from hospeda.contracts import new_id
from hospeda.contracts.provisioning import EnableAddon
from hospeda.contracts.topics import NOTIFY_COMMANDS, PROVISIONING_SERVICE
from hospeda.devstack.testing import eventually


async def test_an_invalid_domain_and_an_unknown_plan_fail_fast_with_a_clear_reason(
    whm: Whm, bus: Bus, database_url: str, kafka_bootstrap: str
) -> None:
    settings = make_settings(database_url, kafka_bootstrap, [whm.settings()])
    company = new_id()
    async with (
        watching(kafka_bootstrap, PROVISIONING_SERVICE, NOTIFY_COMMANDS) as seen,
        running(settings) as app,
    ):
        bad_domain = create_command("exa mple.com")
        unknown_plan = create_command(
            "plano-errado.com.br", package="pacote_inexistente", plan="ouro"
        )
        await bus.send(bad_domain, company_id=company)
        await bus.send(unknown_plan, company_id=company)

        job = await wait_job(app, bad_domain.service_id, "create-account", "failed")
        assert job.attempts == 1
        assert job.last_error == (
            "domínio inválido / invalid domain: 'exa mple.com' (vazio ou com espaços / empty or contains spaces)"
        )
        assert [(step, status) for step, status, _ in await job_log(app, job.id)] == [
            ("validate", "started"),
            ("validate", "failed"),
            (None, "failed"),
        ]
        row = await wait_state(app, bad_domain.service_id, "failed")
        assert row.last_error == job.last_error

        job = await wait_job(app, unknown_plan.service_id, "create-account", "failed")
        assert job.attempts == 1
        assert job.last_error is not None and job.last_error.startswith(
            "plano desconhecido: nenhum servidor oferece o pacote WHM 'pacote_inexistente' (plano 'ouro')"
        )
        await wait_state(app, unknown_plan.service_id, "failed")

        failures = await seen.wait(
            PROVISIONING_SERVICE.name, "provisioning.service.failed", count=2
        )
        assert {f.payload.service_id for f in failures} == {
            bad_domain.service_id,
            unknown_plan.service_id,
        }
        # notify tells the customer from these events: what failed, and for which domain
        assert {(f.payload.job_kind, f.payload.domain) for f in failures} == {
            ("create-account", "exa mple.com"),
            ("create-account", unknown_plan.domain),
        }
        calls = await whm.control.calls()
        assert calls == {}, calls  # WHM was never bothered

        # an add-on nobody sells is refused the same way
        good = create_command("certo.com.br")
        await bus.send(good, company_id=company)
        await wait_state(app, good.service_id, "active")
        await bus.send(
            EnableAddon(service_id=good.service_id, addon_code="turbo"), company_id=company
        )
        job = await wait_job(app, good.service_id, "enable-addon", "failed")
        assert job.attempts == 1 and job.last_error is not None
        assert job.last_error.startswith("complemento desconhecido / unknown add-on: 'turbo'")


async def test_two_services_for_one_domain_make_one_account(
    whm: Whm, bus: Bus, database_url: str, kafka_bootstrap: str
) -> None:
    settings = make_settings(database_url, kafka_bootstrap, [whm.settings()])
    company = new_id()
    async with running(settings) as app:
        orders = [create_command("disputado.com.br"), create_command("disputado.com.br")]
        for order in orders:
            await bus.send(order, company_id=company)

        async def states() -> list[str]:
            rows = [await service_row(app, o.service_id) for o in orders]
            return sorted(r.state if r else "missing" for r in rows)

        await eventually(
            lambda: _equals(states, ["active", "failed"]), message="one active, the other failed"
        )
        [loser] = [o for o in orders if (await service_row(app, o.service_id)).state == "failed"]  # type: ignore[union-attr]
        job = await wait_job(app, loser.service_id, "create-account", "failed")
        assert job.attempts == 1
        assert "já tem outro serviço de hospedagem" in (job.last_error or "")
        assert [a["domain"] for a in (await whm.accounts()).values()] == ["disputado.com.br"]


async def _equals(read, expected) -> bool:  # type: ignore[no-untyped-def]
    return await read() == expected
