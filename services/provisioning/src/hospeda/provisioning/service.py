"""Use cases. Commands become jobs (in the transaction of the consumed
message); what jobs achieve becomes the service's state, events on
``provisioning.service.v1``, notifications and audit records — each state
change and its messages in one transaction. The only place that writes the
outbox."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts import Actor, Envelope, Payload, Topic, new_id, utcnow
from hospeda.contracts.audit import AuditRecord
from hospeda.contracts.notify import Channel, Recipient, SendNotification
from hospeda.contracts.ops import OperatorAlertRaised, Severity
from hospeda.contracts.provisioning import (
    AddonChanged,
    AddonDisabled,
    AddonEnabled,
    ChangeAddon,
    ChangePackage,
    CreateAccount,
    DisableAddon,
    EnableAddon,
    ResetPassword,
    ServiceActivated,
    ServiceCommand,
    ServicePackageChanged,
    ServiceProvisioningFailed,
    ServiceSuspended,
    ServiceTerminated,
    ServiceUnsuspended,
    SuspendAccount,
    TerminateAccount,
    UnsuspendAccount,
)
from hospeda.contracts.topics import (
    AUDIT_RECORDS,
    NOTIFY_COMMANDS,
    OPS_ALERT,
    PROVISIONING_SERVICE,
)
from hospeda.provisioning import addons, domain
from hospeda.provisioning import repository as repo
from hospeda.provisioning.domain import Action, ServiceState
from hospeda.provisioning.models import HostedService, ServiceAddon
from hospeda.runtime import outbox
from hospeda.runtime.db import stable_lock_key
from hospeda.runtime.errors import NotFound, PermanentError
from hospeda.runtime.jobs import ClaimedJob, JobEngine
from hospeda.runtime.messaging import MessageContext

log = logging.getLogger(__name__)

SERVICE = "provisioning"
QUEUE = "provision"
PLACEMENT_LOCK = stable_lock_key("provisioning:placement")

JOB_KINDS: dict[type[ServiceCommand], str] = {
    CreateAccount: "create-account",
    SuspendAccount: "suspend-account",
    UnsuspendAccount: "unsuspend-account",
    TerminateAccount: "terminate-account",
    ChangePackage: "change-package",
    ResetPassword: "reset-password",
    EnableAddon: "enable-addon",
    DisableAddon: "disable-addon",
    ChangeAddon: "change-addon",
}
"""Every command runs as one job of this kind, keyed by its service id."""

CUSTOMER_WAITS_FOR = frozenset({"change-package", "reset-password"})
"""Job kinds whose failure provisioning tells the customer about (they asked).
Account creation and add-ons are told by notify, from ``provisioning.service.failed``."""

CUSTOMER_ROLES = Recipient(company_roles=("owner", "technical"))


def server_target(server: str) -> str:
    """The job target of a WHM server: its concurrency limit applies to it."""
    return f"whm:{server}"


def target(server: str | None) -> str | None:
    return server_target(server) if server else None


# --- commands → jobs -------------------------------------------------------------------------


def _job_payload(message: Envelope[Any]) -> dict[str, Any]:
    return {
        **message.payload.model_dump(mode="json"),
        "requested_by": message.actor.model_dump(mode="json"),
    }


async def accept_create(ctx: MessageContext, engine: JobEngine) -> None:
    """Record the new service, place it on the least-loaded fitting server and
    queue its creation. A second CreateAccount for the same service changes
    nothing: one service, one creation job, one account."""
    message = ctx.message
    command: CreateAccount = message.payload
    if message.company_id is None:
        raise PermanentError(
            "CreateAccount sem empresa (company_id) / CreateAccount without a company_id"
        )
    session = ctx.session
    if await repo.service(session, command.service_id) is not None:
        log.info("service %s already exists; duplicate CreateAccount ignored", command.service_id)
        return
    await engine.db.advisory_xact_lock(session, PLACEMENT_LOCK)
    try:
        server = domain.choose_server(
            await repo.server_loads(session),
            plan_code=command.plan_code,
            whm_package=command.whm_package,
        )
    except domain.InvalidInput:
        server = None  # the job's first step says why, visibly (job log, alert, event)
    try:
        domain_name = domain.normalize_domain(command.domain)
    except domain.InvalidInput:
        domain_name = command.domain.strip().lower()
    now = utcnow()
    record = HostedService(
        service_id=command.service_id,
        company_id=message.company_id,
        subscription_id=command.subscription_id,
        domain=domain_name[:253],
        plan_code=command.plan_code,
        whm_package=command.whm_package,
        contact_email=command.contact_email,
        server=server.name if server else None,
        state=ServiceState.PENDING.value,
        created_at=now,
        updated_at=now,
    )
    session.add(record)
    record.last_job_id = await engine.enqueue(
        session,
        "create-account",
        _job_payload(message),
        key=str(command.service_id),
        target=target(record.server),
        dedupe_key=f"create-account:{command.service_id}",
        cause=message,
    )


async def check_command(session: AsyncSession, kind: str, payload: dict[str, Any]) -> None:
    """Raise ``InvalidInput`` for a command that can never succeed as it is
    (an add-on nobody sells, a package the service's server does not offer)."""
    if kind in ("enable-addon", "disable-addon"):
        addons.validate(payload["addon_code"])
    elif kind == "change-addon":
        addons.validate(payload["from_code"], payload["to_code"], same_family=True)
    elif kind == "change-package":
        record = await repo.service(session, UUID(str(payload["service_id"])))
        server = await repo.server(session, record.server) if record and record.server else None
        if server is not None and payload["whm_package"] not in server.packages:
            raise domain.unknown_plan(str(payload["plan_code"]), str(payload["whm_package"]))


async def accept(ctx: MessageContext, engine: JobEngine, kind: str) -> None:
    """Queue the job for a command about an existing service. It waits behind
    the service's earlier jobs (same key), e.g. a suspend behind a create that
    is still retrying. A command that can never succeed runs unkeyed: it fails
    at once and visibly (job log, alert, event) without holding up the
    service's later commands, as a failed keyed job would."""
    message = ctx.message
    command: ServiceCommand = message.payload
    record = await repo.service(ctx.session, command.service_id)
    if record is not None and message.company_id not in (None, record.company_id):
        raise NotFound(f"serviço não encontrado / service not found: {command.service_id}")
    payload = _job_payload(message)
    key: str | None = str(command.service_id)
    try:
        await check_command(ctx.session, kind, payload)
    except domain.InvalidInput:
        key = None
    job_id = await engine.enqueue(
        ctx.session,
        kind,
        payload,
        key=key,
        target=target(record.server if record else None),
        dedupe_key=str(message.id),
        cause=message,
        company_id=record.company_id if record else None,
    )
    if record is not None and job_id is not None:
        record.last_job_id = job_id
        record.updated_at = utcnow()


# --- who a job's messages come from ---------------------------------------------------------------


@dataclass(frozen=True)
class Flow:
    """Where a job's messages belong: the company, the flow they continue
    (correlation, causation) and who asked for it (audit)."""

    company_id: UUID | None
    correlation_id: UUID | None
    causation_id: UUID | None
    requested_by: Actor

    @classmethod
    def of(cls, job: ClaimedJob) -> Flow:
        requested = job.payload.get("requested_by")
        return cls(
            company_id=job.company_id,
            correlation_id=job.correlation_id,
            causation_id=job.causation_id,
            requested_by=Actor.model_validate(requested) if requested else Actor.system(SERVICE),
        )

    def emit(
        self,
        session: AsyncSession,
        payload: Payload,
        *,
        topic: Topic | str,
        key: str | UUID | None,
        actor: Actor | None = None,
    ) -> None:
        envelope = Envelope.of(
            payload,
            actor=actor or Actor.system(SERVICE),
            company_id=self.company_id,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
        )
        outbox.add(session, envelope, topic=topic, key=key)

    def audit(
        self,
        session: AsyncSession,
        action: str,
        entity_id: UUID,
        *,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        entity: str = "hosting_service",
    ) -> None:
        record = AuditRecord(
            action=action, entity=entity, entity_id=str(entity_id), before=before, after=after
        )
        self.emit(
            session,
            record,
            topic=AUDIT_RECORDS,
            key=str(self.company_id) if self.company_id else "platform",
            actor=self.requested_by,
        )

    def notify(self, session: AsyncSession, template: str, data: dict[str, Any]) -> None:
        notification_id = new_id()
        self.emit(
            session,
            SendNotification(
                notification_id=notification_id,
                channel=Channel.EMAIL,
                template=template,
                recipient=CUSTOMER_ROLES,
                data=data,
            ),
            topic=NOTIFY_COMMANDS,
            key=notification_id,
        )


@dataclass(frozen=True)
class Access:
    """A way into cPanel for the customer: a single-use login link (never a password)."""

    link: str
    expires_at: datetime
    cpanel_url: str

    @classmethod
    def of(cls, url: str, expires_epoch: int, cpanel_url: str) -> Access:
        return cls(url, datetime.fromtimestamp(expires_epoch, UTC), cpanel_url)

    def data(self) -> dict[str, Any]:
        """As notify's templates take it: ``link`` and ``expires_minutes``."""
        minutes = max(1, int((self.expires_at - utcnow()).total_seconds() // 60))
        return {
            "link": self.link,
            "expires_minutes": minutes,
            "link_expires_at": self.expires_at.isoformat(),
            "cpanel_url": self.cpanel_url,
        }


def snapshot(record: HostedService) -> dict[str, Any]:
    """What audit records keep of a service (no secrets, no contact data)."""
    return {
        "state": record.state,
        "domain": record.domain,
        "plan_code": record.plan_code,
        "whm_package": record.whm_package,
        "server": record.server,
        "username": record.username,
        "ip": record.ip,
    }


async def load(session: AsyncSession, service_id: UUID) -> HostedService:
    record = await repo.service(session, service_id)
    if record is None:
        raise PermanentError(
            f"serviço desconhecido (nenhuma conta foi pedida para ele) / unknown service "
            f"(no account was ever requested for it): {service_id}"
        )
    return record


# --- what jobs achieved → state, events, notifications, audit ----------------------------------------


async def record_placement(session: AsyncSession, service_id: UUID, server: str) -> None:
    record = await load(session, service_id)
    record.server, record.updated_at = server, utcnow()


async def reserve_username(
    session: AsyncSession, service_id: UUID, server: str, domain_name: str, *, refused: set[str]
) -> str:
    """Give the service a username no other service of ``server`` has (call
    under the server's username lock). Keeps the one it already has unless
    the server ``refused`` it."""
    record = await load(session, service_id)
    if record.username and record.username not in refused:
        return record.username
    taken = await repo.usernames_on(session, server) | refused
    candidate = next(c for c in domain.username_candidates(domain_name) if c not in taken)
    record.username, record.updated_at = candidate, utcnow()
    return candidate


def username_lock(server: str) -> int:
    return stable_lock_key(f"provisioning:usernames:{server}")


async def activate(
    session: AsyncSession,
    flow: Flow,
    service_id: UUID,
    *,
    ip: str,
    access: Access,
    created: dict[str, Any],
) -> None:
    """Every step of the creation succeeded: the service is active (once)."""
    record = await load(session, service_id)
    domain.check(record.state, Action.ACTIVATE)
    if record.state == ServiceState.ACTIVE:
        return
    if not record.server or not record.username:
        raise RuntimeError(f"service {service_id} has no server or username yet")
    before = snapshot(record)
    now = utcnow()
    record.state, record.ip, record.last_error = ServiceState.ACTIVE.value, ip, None
    record.activated_at = record.updated_at = now
    flow.emit(
        session,
        ServiceActivated(
            service_id=service_id,
            domain=record.domain,
            server=record.server,
            server_ip=ip,
            username=record.username,
        ),
        topic=PROVISIONING_SERVICE,
        key=service_id,
    )
    flow.notify(
        session,
        "service-active",
        {
            "service_id": str(service_id),
            "domain": record.domain,
            "username": record.username,
            "server": record.server,
            "server_ip": ip,
            **created,
            **access.data(),
        },
    )
    flow.audit(
        session, "provisioning.account.created", service_id, before=before, after=snapshot(record)
    )


async def suspended(session: AsyncSession, flow: Flow, service_id: UUID, *, reason: str) -> None:
    record = await load(session, service_id)
    if domain.check(record.state, Action.SUSPEND) == record.state:
        return  # already suspended: nothing changed, nothing to announce
    before = snapshot(record)
    record.state, record.suspend_reason, record.updated_at = (
        ServiceState.SUSPENDED.value,
        reason,
        utcnow(),
    )
    flow.emit(
        session,
        ServiceSuspended(service_id=service_id, reason=reason),
        topic=PROVISIONING_SERVICE,
        key=service_id,
    )
    flow.audit(
        session,
        "provisioning.account.suspended",
        service_id,
        before=before,
        after={**snapshot(record), "reason": reason},
    )


async def unsuspended(session: AsyncSession, flow: Flow, service_id: UUID) -> None:
    record = await load(session, service_id)
    if domain.check(record.state, Action.UNSUSPEND) == record.state:
        return
    before = snapshot(record)
    record.state, record.suspend_reason, record.updated_at = (
        ServiceState.ACTIVE.value,
        None,
        utcnow(),
    )
    flow.emit(
        session,
        ServiceUnsuspended(service_id=service_id),
        topic=PROVISIONING_SERVICE,
        key=service_id,
    )
    flow.audit(
        session,
        "provisioning.account.unsuspended",
        service_id,
        before=before,
        after=snapshot(record),
    )


async def terminated(session: AsyncSession, flow: Flow, service_id: UUID, *, reason: str) -> None:
    record = await load(session, service_id)
    if domain.check(record.state, Action.TERMINATE) == record.state:
        return
    before = snapshot(record)
    now = utcnow()
    record.state, record.updated_at, record.terminated_at = ServiceState.TERMINATED.value, now, now
    for addon in (await repo.addons(session, [service_id])).get(service_id, []):
        addon.state, addon.updated_at = "disabled", now
    flow.emit(
        session,
        ServiceTerminated(service_id=service_id, domain=record.domain),
        topic=PROVISIONING_SERVICE,
        key=service_id,
    )
    flow.audit(
        session,
        "provisioning.account.terminated",
        service_id,
        before=before,
        after={**snapshot(record), "reason": reason},
    )


async def package_changed(
    session: AsyncSession, flow: Flow, service_id: UUID, *, plan_code: str, whm_package: str
) -> None:
    record = await load(session, service_id)
    domain.check(record.state, Action.MODIFY)
    if (record.plan_code, record.whm_package) == (plan_code, whm_package):
        return
    before = snapshot(record)
    record.plan_code, record.whm_package, record.updated_at = plan_code, whm_package, utcnow()
    flow.emit(
        session,
        ServicePackageChanged(service_id=service_id, plan_code=plan_code, whm_package=whm_package),
        topic=PROVISIONING_SERVICE,
        key=service_id,
    )
    flow.audit(
        session,
        "provisioning.account.package_changed",
        service_id,
        before=before,
        after=snapshot(record),
    )


async def password_reset(
    session: AsyncSession, flow: Flow, service_id: UUID, *, access: Access
) -> None:
    """The password was replaced by one nobody knows; the customer gets a
    single-use link into cPanel's password page to choose their own."""
    record = await load(session, service_id)
    flow.notify(
        session,
        "password-reset",
        {
            "name": record.username,
            "service_id": str(service_id),
            "domain": record.domain,
            "username": record.username,
            **access.data(),
        },
    )
    flow.audit(
        session,
        "provisioning.account.password_reset",
        service_id,
        before=None,
        after={"username": record.username},
    )


async def _set_addon(
    session: AsyncSession,
    service_id: UUID,
    code: str,
    *,
    state: str,
    subscription_id: UUID | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    addon = await repo.addon(session, service_id, code)
    now = utcnow()
    if addon is None:
        session.add(
            ServiceAddon(
                service_id=service_id,
                code=code,
                state=state,
                subscription_id=subscription_id,
                details=details or {},
                updated_at=now,
            )
        )
        return
    addon.state, addon.updated_at = state, now
    if subscription_id is not None:
        addon.subscription_id = subscription_id
    if details is not None:
        addon.details = details


async def addon_enabled(
    session: AsyncSession,
    flow: Flow,
    service_id: UUID,
    code: str,
    *,
    subscription_id: UUID | None,
    details: dict[str, Any],
    ip: str | None = None,
) -> None:
    record = await load(session, service_id)
    await _set_addon(
        session, service_id, code, state="active", subscription_id=subscription_id, details=details
    )
    if ip:
        record.ip = ip
    record.updated_at = utcnow()
    flow.emit(
        session,
        AddonEnabled(service_id=service_id, addon_code=code),
        topic=PROVISIONING_SERVICE,
        key=service_id,
    )
    task = details.get("operator_task")
    if task:  # an add-on that people deliver: they get it as a task
        flow.emit(
            session,
            OperatorAlertRaised(
                alert_id=new_id(),
                severity=Severity.INFO,
                source=SERVICE,
                summary=str(task)[:500],
                details={"service_id": str(service_id), "domain": record.domain, "addon": code},
            ),
            topic=OPS_ALERT,
            key=SERVICE,
        )
    flow.audit(
        session,
        "provisioning.addon.enabled",
        service_id,
        before=None,
        after={"addon": code, **details},
    )


async def addon_disabled(
    session: AsyncSession, flow: Flow, service_id: UUID, code: str, *, ip: str | None = None
) -> None:
    record = await load(session, service_id)
    await _set_addon(session, service_id, code, state="disabled", details={})
    if ip:
        record.ip = ip
    record.updated_at = utcnow()
    flow.emit(
        session,
        AddonDisabled(service_id=service_id, addon_code=code),
        topic=PROVISIONING_SERVICE,
        key=service_id,
    )
    flow.audit(
        session, "provisioning.addon.disabled", service_id, before={"addon": code}, after=None
    )


async def addon_changed(
    session: AsyncSession,
    flow: Flow,
    service_id: UUID,
    *,
    from_code: str,
    to_code: str,
    subscription_id: UUID | None,
    details: dict[str, Any],
) -> None:
    await load(session, service_id)
    await _set_addon(session, service_id, from_code, state="disabled", details={})
    await _set_addon(
        session,
        service_id,
        to_code,
        state="active",
        subscription_id=subscription_id,
        details=details,
    )
    flow.emit(
        session,
        AddonChanged(service_id=service_id, from_code=from_code, to_code=to_code),
        topic=PROVISIONING_SERVICE,
        key=service_id,
    )
    flow.audit(
        session,
        "provisioning.addon.changed",
        service_id,
        before={"addon": from_code},
        after={"addon": to_code, **details},
    )


async def job_failed(session: AsyncSession, job: ClaimedJob, error: str, engine: JobEngine) -> None:
    """A provisioning job gave up (the engine has dead-lettered it and alerted
    an operator): say so, so billing knows and notify tells the customer when
    they were waiting for it."""
    flow = Flow.of(job)
    service_id = UUID(str(job.payload["service_id"]))
    record = await repo.service(session, service_id)
    if record is not None:
        record.last_error, record.updated_at = error, utcnow()
        if job.kind == "create-account" and record.state == ServiceState.PENDING:
            before = snapshot(record)
            record.state = domain.check(record.state, Action.FAIL).value
            flow.audit(
                session,
                "provisioning.account.failed",
                service_id,
                before=before,
                after={**snapshot(record), "error": error},
            )
    flow.emit(
        session,
        ServiceProvisioningFailed(
            service_id=service_id,
            job_id=job.id,
            reason=error,
            job_kind=job.kind,
            domain=record.domain if record else job.payload.get("domain"),
            addon_code=job.payload.get("addon_code") or job.payload.get("to_code"),
        ),
        topic=PROVISIONING_SERVICE,
        key=service_id,
    )
    if job.kind in CUSTOMER_WAITS_FOR:
        flow.notify(
            session,
            "provisioning-failed",
            {
                "service_id": str(service_id),
                "domain": record.domain if record else job.payload.get("domain"),
                "job_id": str(job.id),
                "job_kind": job.kind,
                "reason": error,
            },
        )
