"""When WHM misbehaves: transient faults are retried on the configured
schedule, permanent ones fail at once and wait for an operator, a timeout
after WHM did the work never makes a second account, and a command delivered
twice makes one account."""

from __future__ import annotations

from datetime import timedelta

from provisioning_kit import (
    STAFF,
    Bus,
    Whm,
    create_command,
    job_log,
    jobs_of,
    make_settings,
    running,
    statuses,
    wait_job,
    wait_state,
    watching,
)

from hospeda.contracts import new_id, utcnow
from hospeda.contracts.jobs import CancelJob, RetryJob
from hospeda.contracts.provisioning import SuspendAccount, TerminateAccount, UnsuspendAccount
from hospeda.contracts.topics import (
    NOTIFY_COMMANDS,
    OPS_ALERT,
    PROVISIONING_JOB,
    PROVISIONING_SERVICE,
)
from hospeda.devstack.testing import eventually
from hospeda.runtime.clock import ManualClock


async def test_transient_faults_are_retried_on_schedule_and_a_suspend_waits_behind_the_create(
    whm: Whm, bus: Bus, database_url: str, kafka_bootstrap: str
) -> None:
    clock = ManualClock(utcnow())
    settings = make_settings(
        database_url,
        kafka_bootstrap,
        [whm.settings()],
        retry_attempts=5,
        retry_base_delay_s=5,
        retry_factor=2,
        retry_jitter=0.1,
        whm_create_timeout_s=0.5,
    )
    await whm.control.fault("createacct", "error", status=500)
    await whm.control.fault("createacct", "error", status=503)
    await whm.control.fault("createacct", "timeout", delay=3)  # no answer, and nothing done
    company = new_id()
    async with (
        watching(kafka_bootstrap, PROVISIONING_SERVICE) as seen,
        running(settings, clock=clock) as app,
    ):
        create = create_command("padaria-do-joao.com.br")
        service_id = create.service_id
        await bus.send(create, company_id=company)
        delays = []
        for attempt in (1, 2, 3):

            async def retry_scheduled(attempt: int = attempt) -> bool:
                jobs = await jobs_of(app, service_id, "create-account")
                return bool(jobs) and jobs[0].state == "queued" and jobs[0].attempts == attempt

            await eventually(
                retry_scheduled, message=f"attempt {attempt} to fail and be rescheduled"
            )
            [job] = await jobs_of(app, service_id, "create-account")
            delays.append((job.run_at - clock.now()).total_seconds())
            if attempt == 1:
                await bus.send(
                    SuspendAccount(service_id=service_id, reason="fraude"), company_id=company
                )
                await eventually(
                    lambda: _has_job(app, service_id, "suspend-account"),
                    message="the suspend job to be queued",
                )
            [suspend] = await jobs_of(app, service_id, "suspend-account")
            assert suspend.state == "queued" and suspend.attempts == 0  # waiting behind the create
            clock.set(job.run_at)

        await wait_state(app, service_id, "suspended")
        for nominal, actual in zip((5, 10, 20), delays, strict=True):
            assert nominal * 0.9 <= actual <= nominal * 1.1, delays
        [job] = await jobs_of(app, service_id, "create-account")
        assert job.state == "succeeded" and job.attempts == 4
        log = await job_log(app, job.id)
        retries = [message for step, status, message in log if status == "retry"]
        assert len(retries) == 3
        assert "HTTP 500" in retries[0] and "HTTP 503" in retries[1] and "a tempo" in retries[2]
        assert statuses(log, "validate") == [
            "started",
            "succeeded",
        ]  # done once, skipped on retries
        accounts = await whm.accounts()
        assert len(accounts) == 1 and next(iter(accounts.values()))["suspended"]
        [suspend] = await jobs_of(app, service_id, "suspend-account")
        assert suspend.attempts == 1
        await seen.wait(PROVISIONING_SERVICE.name, "provisioning.service.suspended")
        assert [e.type for e in seen.of(PROVISIONING_SERVICE.name)] == [
            "provisioning.service.activated",
            "provisioning.service.suspended",
        ]


async def _has_job(app, service_id, kind) -> bool:  # type: ignore[no-untyped-def]
    return bool(await jobs_of(app, service_id, kind))


async def test_a_permanent_fault_fails_dead_letters_and_an_operator_retry_succeeds(
    whm: Whm, bus: Bus, database_url: str, kafka_bootstrap: str
) -> None:
    settings = make_settings(database_url, kafka_bootstrap, [whm.settings()])
    reason = "Your license does not allow more accounts on this server."
    await whm.control.fault("createacct", "refuse", reason=reason)
    company = new_id()
    async with (
        watching(
            kafka_bootstrap, PROVISIONING_SERVICE, NOTIFY_COMMANDS, OPS_ALERT, PROVISIONING_JOB.dlq
        ) as seen,
        running(settings) as app,
    ):
        create = create_command("oficina-central.com.br")
        service_id = create.service_id
        await bus.send(create, company_id=company)
        job = await wait_job(app, service_id, "create-account", "failed")
        assert job.attempts == 1  # a refusal is not retried
        assert reason in (job.last_error or "")
        row = await wait_state(app, service_id, "failed")
        assert reason in (row.last_error or "")

        [failed] = await seen.wait(PROVISIONING_SERVICE.name, "provisioning.service.failed")
        assert failed.payload.job_id == job.id and failed.payload.job_kind == "create-account"
        assert reason in failed.payload.reason and failed.company_id == company
        [dead] = await seen.wait(PROVISIONING_JOB.dlq, "job.dead_lettered")
        assert (
            dead.payload.job_id == job.id
            and dead.payload.payload["domain"] == "oficina-central.com.br"
        )
        [alert] = await seen.wait(OPS_ALERT.name, "ops.alert.raised")
        assert alert.payload.details["job_id"] == str(job.id)
        assert failed.payload.domain == "oficina-central.com.br"  # what notify tells the customer
        assert await whm.accounts() == {}

        await bus.send(RetryJob(job_id=job.id), company_id=None, actor=STAFF, key=job.id)
        await wait_state(app, service_id, "active")
        job = await wait_job(app, service_id, "create-account", "succeeded")
        log = await job_log(app, job.id)
        assert [status for step, status, _ in log if step is None] == [
            "failed",
            "operator",
            "succeeded",
        ]
        await seen.wait(PROVISIONING_SERVICE.name, "provisioning.service.activated")
        assert len(await whm.accounts()) == 1


async def test_a_timeout_after_whm_created_the_account_makes_no_second_account(
    whm: Whm, bus: Bus, database_url: str, kafka_bootstrap: str
) -> None:
    """Two ways it happens: WHM did the work but its answer never came (the
    same attempt looks and finds it), and WHM finished only after we gave up
    (the retry looks first and finds it)."""
    clock = ManualClock(utcnow())
    settings = make_settings(
        database_url, kafka_bootstrap, [whm.settings()], whm_create_timeout_s=0.5
    )
    await whm.control.fault("createacct", "timeout", delay=3, after=True)
    company = new_id()
    async with running(settings, clock=clock) as app:
        first = create_command("primeira.com.br")
        await bus.send(first, company_id=company)
        await wait_state(app, first.service_id, "active")
        [job] = await jobs_of(app, first.service_id, "create-account")
        assert job.attempts == 1
        assert any("a conta" in m and "existe" in m for _, _, m in await job_log(app, job.id))
        assert await whm.calls("createacct") == 1

        await whm.control.fault("createacct", "slow", delay=1.5)  # creates after we stopped waiting
        second = create_command("segunda.com.br")
        await bus.send(second, company_id=company)

        async def gave_up() -> bool:
            jobs = await jobs_of(app, second.service_id, "create-account")
            return bool(jobs) and jobs[0].state == "queued" and jobs[0].attempts == 1

        await eventually(gave_up, message="the first attempt to time out")

        async def created_late() -> bool:
            return any(a["domain"] == "segunda.com.br" for a in (await whm.accounts()).values())

        await eventually(created_late, message="WHM to finish the slow createacct")
        clock.advance(timedelta(minutes=1))
        await wait_state(app, second.service_id, "active")
        [job] = await jobs_of(app, second.service_id, "create-account")
        assert job.attempts == 2
        assert await whm.calls("createacct") == 2  # one per service: the retry only looked
        domains = sorted(a["domain"] for a in (await whm.accounts()).values())
        assert domains == ["primeira.com.br", "segunda.com.br"]


async def test_the_same_command_delivered_twice_makes_one_account(
    whm: Whm, bus: Bus, database_url: str, kafka_bootstrap: str
) -> None:
    settings = make_settings(database_url, kafka_bootstrap, [whm.settings()])
    company = new_id()
    async with watching(kafka_bootstrap, PROVISIONING_SERVICE) as seen, running(settings) as app:
        create = create_command("duplicado.com.br")
        envelope = await bus.send(create, company_id=company)
        await bus.resend(envelope)  # redelivered: same message id
        await bus.send(create, company_id=company)  # sent again: a new message id
        # a later command on the same key is handled after the duplicates
        await bus.send(
            SuspendAccount(service_id=create.service_id, reason="teste"), company_id=company
        )
        await wait_state(app, create.service_id, "suspended")
        assert len(await jobs_of(app, create.service_id, "create-account")) == 1
        assert len(await whm.accounts()) == 1
        assert await whm.calls("createacct") == 1
        await seen.wait(PROVISIONING_SERVICE.name, "provisioning.service.suspended")
        assert len(seen.of(PROVISIONING_SERVICE.name, "provisioning.service.activated")) == 1

        # a repeated suspend finds the account suspended: no second call, no second event
        await bus.send(
            SuspendAccount(service_id=create.service_id, reason="teste"), company_id=company
        )

        async def both_done() -> bool:
            jobs = await jobs_of(app, create.service_id, "suspend-account")
            return len(jobs) == 2 and all(j.state == "succeeded" for j in jobs)

        await eventually(both_done, message="the second suspend to finish")
        assert await whm.calls("suspendacct") == 1
        # a later event of the same service (same partition) proves nothing else came before it
        await bus.send(UnsuspendAccount(service_id=create.service_id), company_id=company)
        await seen.wait(PROVISIONING_SERVICE.name, "provisioning.service.unsuspended")
        assert len(seen.of(PROVISIONING_SERVICE.name, "provisioning.service.suspended")) == 1


async def test_an_operator_cancels_a_failed_creation_and_the_commands_behind_it_run(
    whm: Whm, bus: Bus, database_url: str, kafka_bootstrap: str
) -> None:
    settings = make_settings(database_url, kafka_bootstrap, [whm.settings()])
    await whm.control.fault("createacct", "refuse", reason="The server is being decommissioned.")
    company = new_id()
    async with watching(kafka_bootstrap, PROVISIONING_SERVICE) as seen, running(settings) as app:
        create = create_command("desistiu.com.br")
        await bus.send(create, company_id=company)
        failed = await wait_job(app, create.service_id, "create-account", "failed")
        # billing refunds and ends the service; the termination waits behind the failure
        await bus.send(
            TerminateAccount(service_id=create.service_id, reason="reembolsado"), company_id=company
        )
        await eventually(
            lambda: _has_job(app, create.service_id, "terminate-account"),
            message="the terminate job to be queued",
        )
        [terminate] = await jobs_of(app, create.service_id, "terminate-account")
        assert terminate.state == "queued" and terminate.attempts == 0

        await bus.send(
            CancelJob(job_id=failed.id, reason="cliente reembolsado"),
            company_id=None,
            actor=STAFF,
            key=failed.id,
        )
        await wait_job(app, create.service_id, "create-account", "cancelled")
        await wait_state(app, create.service_id, "terminated")
        await seen.wait(PROVISIONING_SERVICE.name, "provisioning.service.terminated")
        assert await whm.accounts() == {}
        assert await whm.calls("removeacct") == 0  # there was never an account to remove
