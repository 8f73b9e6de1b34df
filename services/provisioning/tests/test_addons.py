"""Add-ons are independent provisioners: each is enabled, disabled, upgraded
or downgraded on the account by its own job, and reported as it happens."""

from __future__ import annotations

from provisioning_kit import (
    Bus,
    Whm,
    create_command,
    make_settings,
    running,
    wait_job,
    wait_state,
    watching,
)

from hospeda.contracts import new_id
from hospeda.contracts.ops import Severity
from hospeda.contracts.provisioning import ChangeAddon, DisableAddon, EnableAddon
from hospeda.contracts.topics import OPS_ALERT, PROVISIONING_SERVICE

TOPIC = PROVISIONING_SERVICE.name


async def test_addons_are_enabled_changed_and_disabled_on_the_account(
    whm: Whm, bus: Bus, database_url: str, kafka_bootstrap: str
) -> None:
    settings = make_settings(database_url, kafka_bootstrap, [whm.settings()])
    company = new_id()
    async with (
        watching(kafka_bootstrap, PROVISIONING_SERVICE, OPS_ALERT) as seen,
        running(settings) as app,
    ):
        create = create_command("estudio-foto.com.br")
        sid = create.service_id
        await bus.send(create, company_id=company)
        # add-ons bought with the plan queue behind the creation (same key)
        for code in ("backup-pro", "seguranca", "ip-dedicado", "email-pro"):
            await bus.send(EnableAddon(service_id=sid, addon_code=code), company_id=company)
        await seen.wait(TOPIC, "provisioning.addon.enabled", count=4)
        user = (await wait_state(app, sid, "active")).username
        assert user is not None
        account = (await whm.accounts())[user]
        assert account["backup"] is True
        assert account["modsecurity"] is True
        assert account["ip"] == "192.0.2.21"
        assert (account["maxpop"], account["max_email_per_hour"]) == ("25", "500")
        row = await wait_state(app, sid, "active")
        assert row.ip == "192.0.2.21"

        # upgrade within a family
        await bus.send(
            ChangeAddon(service_id=sid, from_code="email-pro", to_code="email-business"),
            company_id=company,
        )
        [changed] = await seen.wait(TOPIC, "provisioning.addon.changed")
        assert (changed.payload.from_code, changed.payload.to_code) == (
            "email-pro",
            "email-business",
        )
        account = (await whm.accounts())[user]
        assert (account["maxpop"], account["max_email_per_hour"]) == ("unlimited", "2000")

        # disable: back to what the package gives
        for code in ("backup-pro", "ip-dedicado", "email-business"):
            await bus.send(DisableAddon(service_id=sid, addon_code=code), company_id=company)
        await seen.wait(TOPIC, "provisioning.addon.disabled", count=3)
        account = (await whm.accounts())[user]
        assert account["backup"] is False
        assert account["ip"] == "192.0.2.10"
        assert account["maxpop"] == "5"  # hospeda_basico's own limit
        assert account["modsecurity"] is True  # untouched: add-ons are independent
        row = await wait_state(app, sid, "active")
        assert row.ip == "192.0.2.10"

        # a change across families is refused at once
        await bus.send(
            ChangeAddon(service_id=sid, from_code="seguranca", to_code="backup-pro"),
            company_id=company,
        )
        job = await wait_job(app, sid, "change-addon", "failed")
        assert job.attempts == 1 and "mesma família" in (job.last_error or "")
        assert job.key is None  # it never held up the service's later commands (below)

        # enabling twice changes nothing on the server
        calls_before = await whm.calls("toggle_user_backup_state")
        await bus.send(EnableAddon(service_id=sid, addon_code="backup-pro"), company_id=company)
        await bus.send(EnableAddon(service_id=sid, addon_code="backup-pro"), company_id=company)
        await seen.wait(TOPIC, "provisioning.addon.enabled", count=6)
        assert await whm.calls("toggle_user_backup_state") == calls_before + 1
        assert (await whm.accounts())[user]["backup"] is True

        # assisted migration: people do it, so the staff get a task naming the account
        await bus.send(EnableAddon(service_id=sid, addon_code="migracao"), company_id=company)
        [task] = await seen.wait(OPS_ALERT.name, "ops.alert.raised", severity=Severity.INFO)
        assert task.payload.details["addon"] == "migracao"
        assert user in task.payload.summary and "estudio-foto.com.br" in task.payload.summary
        await seen.wait(TOPIC, "provisioning.addon.enabled", count=7)

        enabled = [e.payload.addon_code for e in seen.of(TOPIC, "provisioning.addon.enabled")]
        assert enabled == [
            "backup-pro",
            "seguranca",
            "ip-dedicado",
            "email-pro",
            "backup-pro",
            "backup-pro",
            "migracao",
        ]
        # only once the account is live
        types = [e.type for e in seen.of(TOPIC)]
        assert types[0] == "provisioning.service.activated"
