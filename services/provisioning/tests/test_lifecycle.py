"""An account's whole life, through the real broker, database and a simulated
WHM server: create (account, database, mailbox, SSL) → suspend → unsuspend →
change package → reset password → terminate."""

from __future__ import annotations

import httpx
from provisioning_kit import (
    BILLING,
    PACKAGE,
    Bus,
    Whm,
    create_command,
    job_log,
    jobs_of,
    make_settings,
    running,
    wait_job,
    wait_state,
    watching,
)

from hospeda.contracts import new_id
from hospeda.contracts.provisioning import (
    ChangePackage,
    ResetPassword,
    SuspendAccount,
    TerminateAccount,
    UnsuspendAccount,
)
from hospeda.contracts.topics import (
    AUDIT_RECORDS,
    NOTIFY_COMMANDS,
    PROVISIONING_JOB,
    PROVISIONING_SERVICE,
)

SERVICE_TOPIC = PROVISIONING_SERVICE.name


async def test_the_full_life_of_an_account(
    whm: Whm, bus: Bus, database_url: str, kafka_bootstrap: str
) -> None:
    company = new_id()
    settings = make_settings(database_url, kafka_bootstrap, [whm.settings()])
    async with (
        watching(
            kafka_bootstrap, PROVISIONING_SERVICE, NOTIFY_COMMANDS, AUDIT_RECORDS, PROVISIONING_JOB
        ) as seen,
        running(settings) as app,
    ):
        create = create_command("Loja-da-Ana.com.br")
        service_id = create.service_id
        await bus.send(create, company_id=company)

        # --- created: account, database + user + privileges, mailbox, SSL ----------
        row = await wait_state(app, service_id, "active")
        user = row.username
        assert user == "lojadaan" and row.server == "whm1" and row.domain == "loja-da-ana.com.br"
        account = (await whm.accounts())[user]
        assert account["domain"] == "loja-da-ana.com.br" and account["plan"] == PACKAGE
        assert account["databases"] == [f"{user}_site"] and account["db_users"] == [f"{user}_site"]
        assert account["privileges"] == {f"{user}_site@{user}_site": ["ALL PRIVILEGES"]}
        assert list(account["mailboxes"]) == ["contato@loja-da-ana.com.br"]
        assert "loja-da-ana.com.br" in account["secured"]

        [activated] = await seen.wait(SERVICE_TOPIC, "provisioning.service.activated")
        assert activated.company_id == company
        assert activated.payload.model_dump(mode="json") == {
            "service_id": str(service_id),
            "domain": "loja-da-ana.com.br",
            "server": "whm1",
            "server_ip": "192.0.2.10",
            "username": user,
        }
        [welcome] = await seen.wait(NOTIFY_COMMANDS.name, "notify.send")
        assert welcome.payload.template == "service-active"
        assert welcome.payload.recipient.company_roles == ("owner", "technical")
        assert welcome.company_id == company
        data = welcome.payload.data
        assert data["username"] == user and data["domain"] == "loja-da-ana.com.br"
        assert (
            data["databases"] == f"{user}_site"
            and data["mailboxes"] == "contato@loja-da-ana.com.br"
        )
        assert not any("password" in key or "senha" in key for key in data)
        async with httpx.AsyncClient() as http:  # the way in: a single-use login link
            assert (await http.get(str(data["link"]))).status_code == 200
            assert (await http.get(str(data["link"]))).status_code == 401
        assert isinstance(data["expires_minutes"], int) and data["expires_minutes"] > 0

        [create_job] = await jobs_of(app, service_id, "create-account")
        assert create_job.attempts == 1 and create_job.target == "whm:whm1"
        steps = [
            step
            for step, status, _ in await job_log(app, create_job.id)
            if status == "succeeded" and step
        ]
        assert steps == [
            "validate",
            "place",
            "username",
            "whm.createacct",
            f"mysql.create_database:{user}_site",
            f"mysql.create_user:{user}_site",
            f"mysql.set_privileges:{user}_site",
            "email.add_pop:contato",
            "ssl.autossl_check",
            "ssl.autossl_status",
        ]
        await seen.wait(PROVISIONING_JOB.name, "job.succeeded", job_id=create_job.id)
        job_events = [
            e.type for e in seen.of(PROVISIONING_JOB.name) if e.payload.job_id == create_job.id
        ]
        assert job_events[0] == "job.queued" and job_events[-1] == "job.succeeded"
        assert job_events.count("job.step_succeeded") == len(steps)

        # --- suspend / unsuspend ----------------------------------------------------------
        await bus.send(
            SuspendAccount(service_id=service_id, reason="fatura vencida"), company_id=company
        )
        row = await wait_state(app, service_id, "suspended")
        assert row.suspend_reason == "fatura vencida"
        account = (await whm.accounts())[user]
        assert account["suspended"] and account["suspendreason"] == "fatura vencida"
        [suspended] = await seen.wait(SERVICE_TOPIC, "provisioning.service.suspended")
        assert suspended.payload.reason == "fatura vencida"

        await bus.send(UnsuspendAccount(service_id=service_id), company_id=company)
        await wait_state(app, service_id, "active")
        assert not (await whm.accounts())[user]["suspended"]
        await seen.wait(SERVICE_TOPIC, "provisioning.service.unsuspended")

        # --- change package -----------------------------------------------------------------
        await bus.send(
            ChangePackage(
                service_id=service_id, plan_code="profissional", whm_package="hospeda_profissional"
            ),
            company_id=company,
        )
        [changed] = await seen.wait(SERVICE_TOPIC, "provisioning.service.package_changed")
        assert changed.payload.whm_package == "hospeda_profissional"
        assert (await whm.accounts())[user]["plan"] == "hospeda_profissional"

        # --- reset password: a new secret nobody sees, and a login link ---------------------
        before = (await whm.accounts())[user]["password"]
        await bus.send(ResetPassword(service_id=service_id), company_id=company)
        await wait_job(app, service_id, "reset-password", "succeeded")
        assert (await whm.accounts())[user]["password"] != before
        await seen.wait(NOTIFY_COMMANDS.name, "notify.send", count=2)
        reset_notice = [
            e for e in seen.of(NOTIFY_COMMANDS.name) if e.payload.template == "password-reset"
        ]
        assert len(reset_notice) == 1 and reset_notice[0].payload.data["username"] == user
        assert "app=Password_Change" in str(reset_notice[0].payload.data["link"])

        # --- terminate ------------------------------------------------------------------------
        await bus.send(
            TerminateAccount(service_id=service_id, reason="cancelado pelo cliente"),
            company_id=company,
        )
        row = await wait_state(app, service_id, "terminated")
        assert user not in await whm.accounts()
        [terminated] = await seen.wait(SERVICE_TOPIC, "provisioning.service.terminated")
        assert terminated.payload.domain == "loja-da-ana.com.br"

        # --- every change is in the audit trail, attributed to who asked --------------------------
        audits = await seen.wait(AUDIT_RECORDS.name, "audit.record", count=6)
        assert [a.payload.action for a in audits] == [
            "provisioning.account.created",
            "provisioning.account.suspended",
            "provisioning.account.unsuspended",
            "provisioning.account.package_changed",
            "provisioning.account.password_reset",
            "provisioning.account.terminated",
        ]
        assert {a.actor for a in audits} == {BILLING}
        assert all(a.company_id == company for a in audits)
        assert [e.type for e in seen.of(SERVICE_TOPIC)] == [
            "provisioning.service.activated",
            "provisioning.service.suspended",
            "provisioning.service.unsuspended",
            "provisioning.service.package_changed",
            "provisioning.service.terminated",
        ]
