"""The provisioning jobs: one kind per command, each a sequence of named,
logged steps on the job engine. Every step checks before it acts, so an
attempt that died half-way (a timeout after WHM did the work, a lost worker)
is simply repeated: completed steps are skipped, and a step whose effect is
already there does nothing. Only when every step succeeded does the outcome
(state, event, notification, audit record) commit — in one transaction."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from hospeda.provisioning import domain, service
from hospeda.provisioning import repository as repo
from hospeda.provisioning.adapters.whm import Account, WhmClient, WhmRefused, WhmTimeout
from hospeda.provisioning.addons import AddonContext, NotYet, addon, ensure_autossl
from hospeda.provisioning.config import ProvisioningSettings
from hospeda.provisioning.domain import Action, InvalidInput, ServiceState
from hospeda.provisioning.inventory import Inventory
from hospeda.provisioning.models import HostedService
from hospeda.provisioning.service import Access, Flow
from hospeda.runtime.errors import PermanentError
from hospeda.runtime.jobs import JobContext, JobEngine

log = logging.getLogger(__name__)


def cpanel_url(whm_url: str) -> str:
    """The cPanel address customers use on the server behind ``whm_url``."""
    parts = urlsplit(whm_url)
    netloc = parts.netloc.replace(":2087", ":2083").replace(":2086", ":2082")
    return urlunsplit((parts.scheme, netloc, "", "", ""))


class Workflows:
    """Registers the job kinds of provisioning on ``engine``."""

    def __init__(
        self, engine: JobEngine, inventory: Inventory, settings: ProvisioningSettings
    ) -> None:
        self.engine = engine
        self.db = engine.db
        self.inventory = inventory
        self.settings = settings
        policy = settings.retry_policy()
        handlers = {
            "create-account": self.create_account,
            "suspend-account": self.suspend_account,
            "unsuspend-account": self.unsuspend_account,
            "terminate-account": self.terminate_account,
            "change-package": self.change_package,
            "reset-password": self.reset_password,
            "enable-addon": self.enable_addon,
            "disable-addon": self.disable_addon,
            "change-addon": self.change_addon,
        }
        assert set(handlers) == set(service.JOB_KINDS.values())
        for kind, handler in handlers.items():
            engine.kind(kind, queue=service.QUEUE, policy=policy, on_failure=service.job_failed)(
                handler
            )

    # --- helpers ---------------------------------------------------------------------------

    async def _service(self, job: JobContext) -> HostedService:
        async with job.transaction() as session:
            return await service.load(session, UUID(job.payload["service_id"]))

    async def _account(
        self, job: JobContext, action: Action
    ) -> tuple[HostedService, WhmClient, str]:
        """The service, its server's client and its username; the service must
        be in a state that allows ``action`` and have an account."""
        record = await self._service(job)
        domain.check(record.state, action)
        if not record.server or not record.username:
            raise PermanentError(
                "o serviço não tem conta no servidor / the service has no account on a server"
            )
        return record, self.inventory.client(record.server), record.username

    async def _validate(self, job: JobContext) -> None:
        async def check() -> None:
            async with job.transaction() as session:
                await service.check_command(session, job.job.kind, job.payload)

        await job.step("validate", check)

    async def _access(self, whm: WhmClient, user: str, *, app: str | None = None) -> Access:
        url, expires = await whm.create_session(user, app=app)
        return Access.of(url, expires, cpanel_url(whm.base_url))

    # --- create ---------------------------------------------------------------------------------

    async def create_account(self, job: JobContext) -> None:
        p = job.payload
        service_id = UUID(p["service_id"])
        profile = self.settings.plan_profile(p["plan_code"])

        async def validate() -> dict[str, Any]:
            name = domain.normalize_domain(p["domain"])
            async with job.transaction() as session:
                servers = await repo.servers(session)
                if not any(s.active and p["whm_package"] in s.packages for s in servers):
                    raise domain.unknown_plan(p["plan_code"], p["whm_package"])
                record = await service.load(session, service_id)
                assert record.seq is not None
                # the first service ordered for a domain gets it
                other = await repo.earlier_live_service_with_domain(
                    session, name, before_seq=record.seq
                )
            if other is not None:
                raise InvalidInput(
                    f"o domínio {name} já tem outro serviço de hospedagem / the domain {name} "
                    f"already has another hosting service"
                )
            return {"domain": name}

        domain_name = (await job.step("validate", validate))["domain"]

        async def place() -> dict[str, Any]:
            async with job.transaction() as session:
                record = await service.load(session, service_id)
                if record.server:
                    return {"server": record.server}
                await self.db.advisory_xact_lock(session, service.PLACEMENT_LOCK)
                chosen = domain.choose_server(
                    await repo.server_loads(session),
                    plan_code=p["plan_code"],
                    whm_package=p["whm_package"],
                )
                if chosen is None:
                    raise NotYet(
                        f"nenhum servidor com o pacote {p['whm_package']!r} tem vaga; adicione "
                        f"capacidade / no server offering {p['whm_package']!r} has room; add capacity"
                    )
                await service.record_placement(session, service_id, chosen.name)
                return {"server": chosen.name}

        server = (await job.step("place", place))["server"]
        whm = self.inventory.client(server)

        async def choose_username() -> dict[str, Any]:
            refused: set[str] = set()
            while True:
                # reserved among our services first (a short, locked transaction),
                # then checked against accounts on the server we did not create
                async with job.transaction() as session:
                    await self.db.advisory_xact_lock(session, service.username_lock(server))
                    candidate = await service.reserve_username(
                        session, service_id, server, domain_name, refused=refused
                    )
                prefix = candidate[: domain.USERNAME_PREFIX_UNIQUE]
                taken = await whm.usernames_starting_with(prefix)
                if not any(u[: domain.USERNAME_PREFIX_UNIQUE] == prefix for u in taken):
                    return {"username": candidate}
                refused.add(candidate)

        user = (await job.step("username", choose_username))["username"]

        async def ours() -> dict[str, Any] | None:
            existing = await whm.find_account(domain=domain_name)
            if existing is None:
                return None
            if existing.user != user:
                raise InvalidInput(
                    f"o domínio {domain_name} já pertence a outra conta no servidor {server} "
                    f"/ the domain {domain_name} already belongs to another account on {server}"
                )
            return {"user": user, "ip": existing.ip}

        async def createacct() -> dict[str, Any]:
            existing = await ours()
            if existing is not None:
                await job.note(
                    f"createacct: a conta {user} já existe; nada a fazer / account exists"
                )
                return existing
            try:
                data = await whm.create_account(
                    username=user,
                    domain=domain_name,
                    package=p["whm_package"],
                    contact_email=p["contact_email"],
                    password=domain.generate_password(),
                )
            except (WhmTimeout, WhmRefused):
                # it may have worked anyway (a slow server, or our own earlier
                # request winning a race): look before failing the attempt
                existing = await ours()
                if existing is None:
                    raise
                await job.note(
                    f"createacct: sem resposta, mas a conta {user} existe / no answer, but the account exists"
                )
                return existing
            return {"user": user, "ip": str(data.get("ip") or (await whm.account_summary(user)).ip)}

        account = await job.step("whm.createacct", createacct)

        databases = [
            f"{user}_site" if i == 0 else f"{user}_site{i + 1}" for i in range(profile.databases)
        ]
        for name in databases:
            await self._database(job, whm, user, name)
        mailboxes = [f"{local}@{domain_name}" for local in profile.mailboxes]
        for local in profile.mailboxes:

            async def add_pop(local: str = local) -> None:
                if f"{local}@{domain_name}" not in await whm.mailboxes(user):
                    await whm.add_mailbox(
                        user,
                        local=local,
                        domain=domain_name,
                        password=domain.generate_password(),
                        quota_mb=profile.mailbox_quota_mb,
                    )

            await job.step(f"email.add_pop:{local}", add_pop)
        if profile.autossl:
            await ensure_autossl(AddonContext(job, whm, user, domain_name, self.settings))

        access = await self._access(whm, user)
        async with job.transaction() as session:
            await service.activate(
                session,
                Flow.of(job.job),
                service_id,
                ip=account["ip"],
                access=access,
                created={"databases": ", ".join(databases), "mailboxes": ", ".join(mailboxes)},
            )

    async def _database(self, job: JobContext, whm: WhmClient, user: str, name: str) -> None:
        """A database, a user of the same name and all privileges on it."""

        async def database() -> None:
            if name not in await whm.databases(user):
                await whm.create_database(user, name)

        async def db_user() -> None:
            if name not in await whm.database_users(user):
                await whm.create_database_user(user, name, domain.generate_password())

        async def privileges() -> None:
            if "ALL PRIVILEGES" not in await whm.database_privileges(user, name, name):
                await whm.grant_all(user, name, name)

        await job.step(f"mysql.create_database:{name}", database)
        await job.step(f"mysql.create_user:{name}", db_user)
        await job.step(f"mysql.set_privileges:{name}", privileges)

    # --- life cycle -------------------------------------------------------------------------------

    async def suspend_account(self, job: JobContext) -> None:
        record, whm, user = await self._account(job, Action.SUSPEND)
        reason = str(job.payload["reason"])

        async def suspend() -> None:
            account = await _existing_account(whm, user)
            if not account.suspended:
                await whm.suspend(user, reason)

        await job.step("whm.suspendacct", suspend)
        async with job.transaction() as session:
            await service.suspended(session, Flow.of(job.job), record.service_id, reason=reason)

    async def unsuspend_account(self, job: JobContext) -> None:
        record, whm, user = await self._account(job, Action.UNSUSPEND)

        async def unsuspend() -> None:
            account = await _existing_account(whm, user)
            if account.suspended:
                await whm.unsuspend(user)

        await job.step("whm.unsuspendacct", unsuspend)
        async with job.transaction() as session:
            await service.unsuspended(session, Flow.of(job.job), record.service_id)

    async def terminate_account(self, job: JobContext) -> None:
        record = await self._service(job)
        domain.check(record.state, Action.TERMINATE)
        if record.server and record.username:
            whm, user = self.inventory.client(record.server), record.username

            async def remove() -> None:
                account = await whm.find_account(user=user)
                if account is None:
                    await job.note(
                        f"removeacct: a conta {user} não existe; nada a remover / nothing to remove"
                    )
                    return
                if account.domain != record.domain:
                    raise PermanentError(
                        f"a conta {user} no servidor é de outro domínio ({account.domain}); "
                        f"não foi removida / account {user} serves another domain; not removed"
                    )
                await whm.remove(user)

            await job.step("whm.removeacct", remove)
        async with job.transaction() as session:
            await service.terminated(
                session, Flow.of(job.job), record.service_id, reason=str(job.payload["reason"])
            )

    async def change_package(self, job: JobContext) -> None:
        p = job.payload
        package = str(p["whm_package"])

        await self._validate(job)
        record, whm, user = await self._account(job, Action.MODIFY)

        async def change() -> None:
            if (await whm.account_summary(user)).plan != package:
                await whm.change_package(user, package)

        await job.step("whm.changepackage", change)
        async with job.transaction() as session:
            await service.package_changed(
                session,
                Flow.of(job.job),
                record.service_id,
                plan_code=str(p["plan_code"]),
                whm_package=package,
            )

    async def reset_password(self, job: JobContext) -> None:
        record, whm, user = await self._account(job, Action.MODIFY)
        # a new password nobody knows (never stored, logged or sent); the
        # customer sets their own through a single-use link to that page
        await job.step("whm.passwd", lambda: whm.set_password(user, domain.generate_password()))
        access = await self._access(whm, user, app="Password_Change")
        async with job.transaction() as session:
            await service.password_reset(
                session, Flow.of(job.job), record.service_id, access=access
            )

    # --- add-ons ---------------------------------------------------------------------------------------

    async def _addon_context(self, job: JobContext) -> tuple[HostedService, AddonContext]:
        record, whm, user = await self._account(job, Action.MODIFY)
        return record, AddonContext(job, whm, user, record.domain, self.settings)

    async def enable_addon(self, job: JobContext) -> None:
        p = job.payload
        await self._validate(job)
        provisioner = addon(p["addon_code"])
        record, ctx = await self._addon_context(job)
        details = await provisioner.enable(ctx)
        async with job.transaction() as session:
            await service.addon_enabled(
                session,
                Flow.of(job.job),
                record.service_id,
                provisioner.code,
                subscription_id=_uuid(p.get("subscription_id")),
                details=details,
                ip=details.get("ip"),
            )

    async def disable_addon(self, job: JobContext) -> None:
        p = job.payload
        await self._validate(job)
        provisioner = addon(p["addon_code"])
        record = await self._service(job)
        details: dict[str, Any] = {}
        if record.state != ServiceState.TERMINATED:
            record, ctx = await self._addon_context(job)
            details = await provisioner.disable(ctx)
        async with job.transaction() as session:
            await service.addon_disabled(
                session, Flow.of(job.job), record.service_id, provisioner.code, ip=details.get("ip")
            )

    async def change_addon(self, job: JobContext) -> None:
        p = job.payload
        await self._validate(job)
        old, new = addon(p["from_code"]), addon(p["to_code"])
        record, ctx = await self._addon_context(job)
        if old.code == new.code:
            await job.note("mesmo complemento; nada a mudar / same add-on; nothing to change")
            return
        details = await new.enable(ctx)
        async with job.transaction() as session:
            await service.addon_changed(
                session,
                Flow.of(job.job),
                record.service_id,
                from_code=old.code,
                to_code=new.code,
                subscription_id=_uuid(p.get("subscription_id")),
                details=details,
            )


def _uuid(value: Any) -> UUID | None:
    return UUID(str(value)) if value else None


async def _existing_account(whm: WhmClient, user: str) -> Account:
    """The account on its server; refusing (permanently) when it is not there."""
    account = await whm.find_account(user=user)
    if account is None:
        raise PermanentError(
            f"a conta {user} não existe no servidor / account {user} does not exist on the server"
        )
    return account
