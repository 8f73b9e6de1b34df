"""Two service instances share the work: no job runs twice, no server gets
more work at once than its limit, and accounts go to the least-loaded server
that offers their package."""

from __future__ import annotations

import asyncio

from provisioning_kit import (
    Bus,
    create_command,
    job_log,
    jobs_of,
    make_settings,
    running,
    service_row,
    simulated_whm,
    statuses,
    wait_state,
)

from hospeda.contracts import new_id


async def test_two_workers_never_run_one_job_twice_and_each_server_keeps_its_limit(
    bus: Bus, database_url: str, kafka_bootstrap: str
) -> None:
    async with simulated_whm("whm1") as small, simulated_whm("whm2") as large:
        for whm in (small, large):
            await whm.control.latency(0.02)  # every call takes a little while: jobs overlap
        servers = [
            small.settings(max_accounts=6, concurrency=2),
            large.settings(
                max_accounts=12, concurrency=2, packages=("hospeda_basico", "hospeda_empresarial")
            ),
        ]
        # two jobs at a time each: together they fill both servers' slots, so
        # both instances compete for the same jobs
        one, two = (
            make_settings(
                database_url, kafka_bootstrap, servers, HOSPEDA_INSTANCE_ID=name, job_concurrency=2
            )
            for name in ("one", "two")
        )
        company = new_id()
        async with running(one) as first, running(two) as second:
            commands = [create_command(f"cliente{i:02d}.com.br") for i in range(15)]
            big = create_command("grande.com.br", package="hospeda_empresarial", plan="empresarial")
            for command in (*commands, big):
                await bus.send(command, company_id=company)
            await asyncio.gather(
                *(wait_state(first, c.service_id, "active", timeout=90) for c in (*commands, big))
            )

            for command in (*commands, big):
                [job] = await jobs_of(first, command.service_id, "create-account")
                assert job.attempts == 1, job.last_error
                log = await job_log(first, job.id)
                assert statuses(log, "whm.createacct") == ["started", "succeeded"]
            created = await small.calls("createacct") + await large.calls("createacct")
            assert created == 16
            on_small, on_large = await small.accounts(), await large.accounts()
            assert len(on_small) + len(on_large) == 16
            assert 0 < len(on_small) <= 6  # used, within its capacity
            row = await service_row(first, big.service_id)
            assert row is not None and row.server == "whm2"  # the only one offering the package
            assert any(a["domain"] == "grande.com.br" for a in on_large.values())

            for whm in (small, large):
                peak = (await whm.control.state())["peak_inflight"]
                assert 1 <= peak <= 2, (whm.name, peak)
            assert first.runtime.workers[0].completed > 0
            assert second.runtime.workers[0].completed > 0
