"""Add-ons: each one an independent provisioner with ``enable`` and
``disable``, registered in ``ADDONS`` by the code billing sells it under.

To add an add-on, write a class with ``code``, ``family``, ``enable`` and
``disable`` (each WHM call a named, repeatable step: check, then act) and list
an instance in ``ADDONS``. Add-ons of one ``family`` are tiers of the same
thing: changing between them (upgrade/downgrade) enables the new tier over
the old one instead of tearing it down first.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol

from hospeda.provisioning.adapters.whm import WhmClient
from hospeda.provisioning.config import ProvisioningSettings
from hospeda.provisioning.domain import InvalidInput
from hospeda.runtime.jobs import JobContext


class NotYet(Exception):
    """Something outside our control is not ready (AutoSSL still validating,
    no free IP address): the attempt fails and the job retries later."""


@dataclass(frozen=True)
class AddonContext:
    """What a provisioner works with: the job (for named steps), the
    account's server and identity."""

    job: JobContext
    whm: WhmClient
    user: str
    domain: str
    settings: ProvisioningSettings

    async def step(self, name: str, action: Any) -> Any:
        return await self.job.step(name, action)


class AddonProvisioner(Protocol):
    @property
    def code(self) -> str:
        """What billing sells it as, e.g. ``backup-pro``."""
        ...

    @property
    def family(self) -> str:
        """Add-ons of one family are tiers of the same thing."""
        ...

    async def enable(self, ctx: AddonContext) -> dict[str, Any]:
        """Turn the add-on on (safe to repeat); returns what it set up."""
        ...

    async def disable(self, ctx: AddonContext) -> dict[str, Any]:
        """Turn the add-on off (safe to repeat)."""
        ...


# --- AutoSSL (shared with account creation) -------------------------------------------------


async def ensure_autossl(ctx: AddonContext, *, prefix: str = "ssl") -> None:
    """Two steps: start an AutoSSL check unless the domain is covered, then
    wait (bounded) for a CA-signed certificate to cover it. A finished check
    that left the domain uncovered fails the attempt with AutoSSL's reason;
    the retry starts a new check."""
    whm, user, domain = ctx.whm, ctx.user, ctx.domain

    async def start() -> dict[str, Any]:
        if domain in await whm.secured_hosts(user):
            return {"attempt": ctx.job.attempt, "already_secured": True}
        if domain in await whm.autossl_excluded(user):
            await whm.include_in_autossl(user, domain)
        if not await whm.autossl_in_progress(user):
            await whm.start_autossl(user)
        return {"attempt": ctx.job.attempt}

    started = await ctx.step(f"{prefix}.autossl_check", start)

    async def status() -> dict[str, Any]:
        if domain in await whm.secured_hosts(user):
            return {"secured": True}
        in_progress = await whm.autossl_in_progress(user)
        if not in_progress and started.get("attempt") != ctx.job.attempt:
            await whm.start_autossl(user)  # a retry: check again
            in_progress = True
        deadline = time.monotonic() + ctx.settings.autossl_wait_s
        while in_progress and time.monotonic() < deadline:
            await asyncio.sleep(ctx.settings.autossl_poll_s)
            in_progress = await whm.autossl_in_progress(user)
        if domain in await whm.secured_hosts(user):
            return {"secured": True}
        if in_progress:
            raise NotYet(
                "a verificação AutoSSL ainda está em andamento / the AutoSSL check is still running"
            )
        problems = [
            str(p.get("problem"))
            for p in await whm.autossl_problems(user)
            if p.get("domain") == domain
        ]
        raise NotYet(
            f"AutoSSL não emitiu certificado para {domain} / AutoSSL issued no certificate for {domain}: "
            + ("; ".join(problems) or "sem motivo informado / no reason given")
        )

    await ctx.step(f"{prefix}.autossl_status", status)


class AutoSsl:
    """SSL: a free, auto-renewed certificate for the site (AutoSSL)."""

    code = "ssl"
    family = "ssl"

    async def enable(self, ctx: AddonContext) -> dict[str, Any]:
        await ensure_autossl(ctx, prefix="addon.ssl")
        return {"domain": ctx.domain}

    async def disable(self, ctx: AddonContext) -> dict[str, Any]:
        async def exclude() -> None:
            if ctx.domain not in await ctx.whm.autossl_excluded(ctx.user):
                await ctx.whm.exclude_from_autossl(ctx.user, ctx.domain)

        await ctx.step("addon.ssl.exclude", exclude)
        return {}


class BackupPro:
    """Backup Pro: the server backs the account up (daily, with retention)."""

    code = "backup-pro"
    family = "backup"

    async def _set(self, ctx: AddonContext, on: bool) -> None:
        async def apply() -> None:
            account = await ctx.whm.account_summary(ctx.user)
            if account.backup != on:
                await ctx.whm.toggle_backup(ctx.user)

        await ctx.step(f"addon.{self.code}.{'enable' if on else 'disable'}", apply)

    async def enable(self, ctx: AddonContext) -> dict[str, Any]:
        await self._set(ctx, True)
        return {"backups": True}

    async def disable(self, ctx: AddonContext) -> dict[str, Any]:
        await self._set(ctx, False)
        return {}


@dataclass(frozen=True)
class ProfessionalEmail:
    """Professional e-mail: more mailboxes and a higher sending rate. Tiers of
    one family; disabling returns to the package's own limits."""

    code: str
    maxpop: str
    max_email_per_hour: str
    family: str = "email"

    async def enable(self, ctx: AddonContext) -> dict[str, Any]:
        async def apply() -> None:
            account = await ctx.whm.account_summary(ctx.user)
            if account.maxpop != self.maxpop:
                await ctx.whm.modify_account(
                    ctx.user, MAXPOP=self.maxpop, MAX_EMAIL_PER_HOUR=self.max_email_per_hour
                )

        await ctx.step(f"addon.{self.code}.limits", apply)
        return {"maxpop": self.maxpop, "max_email_per_hour": self.max_email_per_hour}

    async def disable(self, ctx: AddonContext) -> dict[str, Any]:
        async def restore() -> None:
            account = await ctx.whm.account_summary(ctx.user)
            package = await ctx.whm.package_info(account.plan)
            maxpop = str(package.get("MAXPOP", "unlimited"))
            if account.maxpop != maxpop:
                await ctx.whm.modify_account(
                    ctx.user,
                    MAXPOP=maxpop,
                    MAX_EMAIL_PER_HOUR=str(package.get("MAX_EMAIL_PER_HOUR", "unlimited")),
                )

        await ctx.step(f"addon.{self.code}.restore_limits", restore)
        return {}


class DedicatedIp:
    """Dedicated IP: the site gets an address of its own from the server's pool."""

    code = "ip-dedicado"
    family = "dedicated-ip"

    async def enable(self, ctx: AddonContext) -> dict[str, Any]:
        async def assign() -> dict[str, Any]:
            account = await ctx.whm.account_summary(ctx.user)
            ips = await ctx.whm.ips()
            shared = {str(ip["ip"]) for ip in ips if int(ip.get("mainaddr", 0))}
            if account.ip not in shared:
                return {"ip": account.ip}
            free = [
                str(ip["ip"])
                for ip in ips
                if not int(ip.get("mainaddr", 0)) and not int(ip.get("used", 0))
            ]
            if not free:
                raise NotYet(
                    f"nenhum IP livre no servidor {ctx.whm.server}; adicione IPs e tente de novo "
                    f"/ no free IP on server {ctx.whm.server}; add addresses and retry"
                )
            await ctx.whm.set_site_ip(ctx.user, free[0])
            return {"ip": free[0]}

        return dict(await ctx.step(f"addon.{self.code}.assign", assign))

    async def disable(self, ctx: AddonContext) -> dict[str, Any]:
        async def release() -> dict[str, Any]:
            account = await ctx.whm.account_summary(ctx.user)
            shared = [str(ip["ip"]) for ip in await ctx.whm.ips() if int(ip.get("mainaddr", 0))]
            if shared and account.ip not in shared:
                await ctx.whm.set_site_ip(ctx.user, shared[0])
            return {"ip": shared[0] if shared else account.ip}

        return dict(await ctx.step(f"addon.{self.code}.release", release))


class Security:
    """Security: the web application firewall (ModSecurity) on every domain."""

    code = "seguranca"
    family = "security"

    async def _set(self, ctx: AddonContext, on: bool) -> None:
        async def apply() -> None:
            states = await ctx.whm.modsecurity(ctx.user)
            if not states or any(enabled != on for enabled in states.values()):
                await ctx.whm.set_modsecurity(ctx.user, enabled=on)

        await ctx.step(f"addon.{self.code}.{'enable' if on else 'disable'}", apply)

    async def enable(self, ctx: AddonContext) -> dict[str, Any]:
        await self._set(ctx, True)
        return {"modsecurity": True}

    async def disable(self, ctx: AddonContext) -> dict[str, Any]:
        await self._set(ctx, False)
        return {}


class AssistedMigration:
    """Assisted migration: our staff bring the site over from another host.
    Nothing changes on WHM by itself: the account must exist, and the staff
    get a task (an operator alert naming the account) when it is bought."""

    code = "migracao"
    family = "migration"

    async def enable(self, ctx: AddonContext) -> dict[str, Any]:
        async def check() -> None:
            await ctx.whm.account_summary(ctx.user)  # the destination exists

        await ctx.step(f"addon.{self.code}.check_account", check)
        return {
            "operator_task": (
                f"Migração assistida: trazer o site de {ctx.domain} para a conta {ctx.user} "
                f"no servidor {ctx.whm.server} / Assisted migration: bring {ctx.domain}'s site "
                f"into account {ctx.user} on {ctx.whm.server}"
            )
        }

    async def disable(self, ctx: AddonContext) -> dict[str, Any]:
        return {}


ADDONS: dict[str, AddonProvisioner] = {
    provisioner.code: provisioner
    for provisioner in (
        AutoSsl(),
        BackupPro(),
        ProfessionalEmail("email-pro", maxpop="25", max_email_per_hour="500"),
        ProfessionalEmail("email-business", maxpop="unlimited", max_email_per_hour="2000"),
        DedicatedIp(),
        Security(),
        AssistedMigration(),
    )
}
"""Every add-on provisioning knows, by the code billing sells it under."""


def addon(code: str) -> AddonProvisioner:
    try:
        return ADDONS[code]
    except KeyError:
        raise InvalidInput(
            f"complemento desconhecido / unknown add-on: {code!r} "
            f"(conhecidos / known: {', '.join(sorted(ADDONS))})"
        ) from None


def validate(*codes: str, same_family: bool = False) -> list[AddonProvisioner]:
    """The provisioners of ``codes``; ``InvalidInput`` for an unknown code, or
    (``same_family``) for a change between different kinds of add-on."""
    provisioners = [addon(code) for code in codes]
    if same_family and len({p.family for p in provisioners}) > 1:
        raise InvalidInput(
            f"só é possível trocar um complemento por outro da mesma família / an add-on can only "
            f"change to another of its family: {codes[0]!r} → {codes[-1]!r}"
        )
    return provisioners
