"""Use cases of the dns service: zones for new services, customers' records,
delegation checks, and the queries the gateway asks. The only place that
writes the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts import Actor, ActorKind, Envelope, Payload
from hospeda.contracts.dns import (
    CreateRecord,
    DelegationFailed,
    DelegationLost,
    DelegationPending,
    DelegationVerified,
    DeleteRecord,
    DnsRecord,
    RecordCreated,
    RecordDeleted,
    RecordRejected,
    RecordSpec,
    RecordUpdated,
    UpdateRecord,
    ZoneCreated,
    ZoneDeleted,
)
from hospeda.contracts.notify import Channel, Recipient, SendNotification
from hospeda.contracts.topics import DNS_ZONE, NOTIFY_COMMANDS
from hospeda.dns import repository as repo
from hospeda.dns.adapters.cloudflare import DnsProvider
from hospeda.dns.adapters.resolver import DelegationChecker, ResolutionError
from hospeda.dns.config import DnsSettings
from hospeda.dns.domain import (
    DelegationCheck,
    DelegationStatus,
    InvalidDomain,
    InvalidRecord,
    RetrySchedule,
    next_status,
    normalize_domain,
    template_for,
    validate_record,
)
from hospeda.dns.models import Zone
from hospeda.runtime.clock import Clock
from hospeda.runtime.errors import NotFound, PermanentError
from hospeda.runtime.jobs import ClaimedJob, JobContext, JobEngine, NewJob, RetryPolicy
from hospeda.runtime.messaging import MessageContext, QueryContext

log = logging.getLogger(__name__)

CLOUDFLARE_QUEUE = "dns"
CHECK_QUEUE = "dns-checks"
NOTIFY_ROLES = ("owner", "technical")
_IDS = UUID("5d2f0c1e-6b1a-4f43-9a55-0d7c9b3e1f20")


class DelegationNotYet(Exception):
    """The domain is not delegated yet: check again later (a job retry)."""


@dataclass(frozen=True)
class Outcome:
    """What a delegation check changed."""

    status: DelegationStatus
    event: str | None
    check: DelegationCheck | None


def _not_found(domain: str) -> NotFound:
    return NotFound(
        f"Domínio {domain} não encontrado nesta empresa / Domain {domain} not found in this company"
    )


def _may_act_for_any_company(actor: Actor) -> bool:
    return actor.kind in (ActorKind.STAFF, ActorKind.SYSTEM)


class DnsService:
    """Everything the dns service does, given its collaborators."""

    def __init__(
        self,
        *,
        settings: DnsSettings,
        engine: JobEngine,
        provider: DnsProvider,
        checker: DelegationChecker,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.provider = provider
        self.checker = checker
        self.clock = clock
        self.schedule = RetrySchedule(
            base=timedelta(seconds=settings.delegation_retry_base_s),
            cap=timedelta(seconds=settings.delegation_retry_max_s),
        )
        self._register_jobs()

    # --- zones for services ------------------------------------------------------------

    async def request_zone(
        self,
        ctx: MessageContext,
        *,
        domain: str,
        server_ip: str,
        service_id: UUID | None,
    ) -> None:
        """Create the zone of a new service (idempotent: a zone already being
        created or live for the same company is left alone)."""
        company_id = ctx.message.company_id
        if company_id is None:
            raise PermanentError(
                "a mensagem não diz a que empresa o domínio pertence (company_id) / "
                "the message does not say which company owns the domain (company_id)"
            )
        domain = normalize_domain(domain)
        try:
            server_ip = str(ipaddress.ip_address(server_ip))
        except ValueError:
            raise PermanentError(
                f"IP do servidor inválido / invalid server IP: {server_ip!r}"
            ) from None
        now = self.clock.now()
        zone = await repo.zone_for_update(ctx.session, domain)
        if zone is not None and zone.status in repo.ACTIVE:
            if zone.company_id != company_id:
                raise PermanentError(
                    f"o domínio {domain} já está em uso por outra empresa / "
                    f"domain {domain} is already in use by another company"
                )
            return
        if zone is None:
            zone = Zone(
                domain=domain,
                status="creating",
                delegation="not_started",
                created_at=now,
                updated_at=now,
            )
            ctx.session.add(zone)
        zone.company_id = company_id
        zone.service_id = service_id
        zone.server_ip = server_ip
        zone.status = "creating"
        zone.delegation = DelegationStatus.NOT_STARTED.value
        zone.provider_zone_id = None
        zone.assigned_nameservers = []
        zone.expected_nameservers = []
        zone.delegation_found = []
        zone.delegation_problems = []
        zone.delegation_warnings = []
        zone.delegation_started_at = zone.delegation_deadline = None
        zone.delegation_checked_at = zone.delegation_verified_at = None
        zone.next_recheck_at = None
        zone.updated_at = now
        await ctx.session.flush()
        await self.engine.enqueue(
            ctx.session,
            "create-zone",
            {
                "domain": domain,
                "server_ip": server_ip,
                "service_id": str(service_id) if service_id else None,
            },
            key=domain,
            target=self.settings.cloudflare_target,
            dedupe_key=f"create-zone:{ctx.message.id}",
            cause=ctx.message,
            company_id=company_id,
        )

    async def service_terminated(
        self, ctx: MessageContext, *, service_id: UUID, domain: str | None
    ) -> None:
        """Remove the zone of a terminated service (when configured to)."""
        zone = None
        if domain:
            with contextlib.suppress(InvalidDomain):  # not a name we could hold
                zone = await repo.zone_for_update(ctx.session, normalize_domain(domain))
        if zone is None:
            zone = await repo.zone_of_service(ctx.session, service_id)
        if zone is None or zone.status not in repo.ACTIVE:
            return
        if zone.service_id is not None and zone.service_id != service_id:
            return  # the domain belongs to another service now
        if not self.settings.delete_zone_on_termination:
            zone.next_recheck_at = None  # keep the zone, stop watching its delegation
            zone.updated_at = self.clock.now()
            return
        await self._delete_zone(ctx, zone)

    async def delete_zone(self, ctx: MessageContext, *, domain: str) -> None:
        """The explicit ``DeleteZone`` command."""
        zone = await self._owned_zone(ctx, domain)
        await self._delete_zone(ctx, zone)

    async def _delete_zone(self, ctx: MessageContext, zone: Zone) -> None:
        zone.status = "deleting"
        zone.next_recheck_at = None
        zone.updated_at = self.clock.now()
        await self.engine.enqueue(
            ctx.session,
            "delete-zone",
            {"domain": zone.domain},
            key=zone.domain,
            target=self.settings.cloudflare_target,
            dedupe_key=f"delete-zone:{ctx.message.id}",
            cause=ctx.message,
            company_id=zone.company_id,
        )

    async def _owned_zone(self, ctx: MessageContext, domain: str) -> Zone:
        """The zone of ``domain`` if the message's company owns it (staff and
        the platform may act on any); otherwise ``NotFound``."""
        try:
            name = normalize_domain(domain)
        except InvalidDomain:
            raise _not_found(domain) from None
        zone = await repo.zone_for_update(ctx.session, name)
        if zone is None or zone.status not in repo.ACTIVE:
            raise _not_found(name)
        message = ctx.message
        if zone.company_id != message.company_id and not _may_act_for_any_company(message.actor):
            raise _not_found(name)
        return zone

    # --- customers' records ------------------------------------------------------------------

    async def change_record(
        self, ctx: MessageContext, command: CreateRecord | UpdateRecord | DeleteRecord
    ) -> None:
        """Validate a customer's record command and queue it for Cloudflare,
        or announce why it was refused (``RecordRejected``)."""
        record_id = getattr(command, "record_id", None)
        try:
            zone = await self._owned_zone(ctx, command.domain)
            payload: dict[str, Any] = {"domain": zone.domain}
            if isinstance(command, CreateRecord):
                kind = "create-record"
                existing = await repo.existing_records(ctx.session, zone.domain)
                spec = validate_record(command.record, zone.domain, existing)
                payload["record"] = spec.model_dump(mode="json")
            else:
                if await repo.record(ctx.session, zone.domain, command.record_id) is None:
                    raise InvalidRecord(
                        f"o registro {command.record_id} não existe em {zone.domain} / "
                        f"record {command.record_id} does not exist in {zone.domain}"
                    )
                payload["record_id"] = command.record_id
                if isinstance(command, UpdateRecord):
                    kind = "update-record"
                    existing = await repo.existing_records(ctx.session, zone.domain)
                    spec = validate_record(
                        command.record, zone.domain, existing, replacing=command.record_id
                    )
                    payload["record"] = spec.model_dump(mode="json")
                else:
                    kind = "delete-record"
        except PermanentError as exc:
            ctx.emit(
                RecordRejected(
                    domain=command.domain.lower(),
                    command=ctx.message.type,
                    reason=str(exc),
                    record_id=record_id,
                    record=getattr(command, "record", None),
                ),
                topic=DNS_ZONE,
                key=command.domain.lower(),
            )
            return
        await self.engine.enqueue(
            ctx.session,
            kind,
            payload,
            key=zone.domain,
            target=self.settings.cloudflare_target,
            dedupe_key=f"{kind}:{ctx.message.id}",
            cause=ctx.message,
            company_id=zone.company_id,
        )

    # --- delegation ----------------------------------------------------------------------------

    async def check_delegation(self, ctx: MessageContext, *, domain: str) -> None:
        """Check now; a domain that ran out of time starts a new waiting period."""
        zone = await self._owned_zone(ctx, domain)
        if zone.status != "active":
            raise PermanentError(
                f"a zona de {zone.domain} ainda está sendo criada; tente em instantes / "
                f"the zone of {zone.domain} is still being created; try again shortly"
            )
        if zone.delegation == DelegationStatus.FAILED.value:
            await self._start_waiting(
                ctx.session, zone, cause=ctx.message, dedupe=str(ctx.message.id)
            )
        await self.engine.enqueue(
            ctx.session,
            "check-delegation",
            {"domain": zone.domain},
            dedupe_key=f"check-delegation:{ctx.message.id}",
            cause=ctx.message,
            company_id=zone.company_id,
        )

    async def _start_waiting(
        self,
        session: AsyncSession,
        zone: Zone,
        *,
        dedupe: str,
        cause: Envelope[Any] | None = None,
    ) -> None:
        now = self.clock.now()
        zone.delegation = DelegationStatus.PENDING.value
        zone.delegation_started_at = now
        zone.delegation_deadline = now + self.settings.delegation_wait
        zone.updated_at = now
        await self.engine.enqueue(
            session,
            "wait-delegation",
            {"domain": zone.domain},
            key=f"delegation:{zone.domain}",
            dedupe_key=f"wait-delegation:{zone.domain}:{dedupe}",
            cause=cause,
            company_id=zone.company_id,
        )

    async def run_check(self, job: JobContext, *, waiting: bool) -> Outcome:
        """Check the delegation of the job's domain over the wire and record
        the result (and its event) in one transaction."""
        domain = job.payload["domain"]
        async with self.engine.db.transaction() as session:
            zone = await repo.zone(session, domain)
            if zone is None or zone.status != "active":
                return Outcome(DelegationStatus.NOT_STARTED, None, None)
            if waiting and zone.delegation != DelegationStatus.PENDING.value:
                return Outcome(DelegationStatus(zone.delegation), None, None)
            expected = tuple(zone.expected_nameservers)
        try:
            check = await self.checker.check(domain, expected)
        except ResolutionError as exc:
            raise ResolutionError(
                f"não foi possível consultar a zona pai de {domain} / could not query the parent zone of {domain}: {exc}"
            ) from None
        now = self.clock.now()
        async with job.transaction() as session:
            zone = await repo.zone_for_update(session, domain)
            if zone is None or zone.status != "active":
                return Outcome(DelegationStatus.NOT_STARTED, None, check)
            current = DelegationStatus(zone.delegation)
            if check.inconclusive:
                transition_status, event = current, None
            else:
                transition = next_status(current, check, now=now, deadline=zone.delegation_deadline)
                transition_status, event = transition.status, transition.event
            zone.delegation = transition_status.value
            zone.delegation_checked_at = now
            zone.delegation_found = list(check.found)
            zone.delegation_problems = list(check.problems)
            zone.delegation_warnings = list(check.warnings)
            zone.updated_at = now
            if transition_status in (
                DelegationStatus.VERIFIED,
                DelegationStatus.LOST,
                DelegationStatus.FAILED,  # a customer who sets the NS late is still found
            ):
                zone.next_recheck_at = now + timedelta(seconds=self.settings.recheck_interval_s)
            if event == "verified":
                zone.delegation_verified_at = now
            self._announce(session, job.job, zone, event, check)
        return Outcome(transition_status, event, check)

    def _announce(
        self,
        session: AsyncSession,
        job: ClaimedJob,
        zone: Zone,
        event: str | None,
        check: DelegationCheck,
    ) -> None:
        if event is None:
            return
        expected = tuple(zone.expected_nameservers)
        payload: Payload
        template: str
        if event == "verified":
            payload = DelegationVerified(domain=zone.domain, nameservers=expected)
            template = "delegation-verified"
        elif event == "lost":
            payload = DelegationLost(
                domain=zone.domain, expected_nameservers=expected, found_nameservers=check.found
            )
            template = "delegation-lost"
        else:
            payload = DelegationFailed(
                domain=zone.domain,
                expected_nameservers=expected,
                found_nameservers=check.found,
                reason=(
                    f"não delegado em {self.settings.delegation_wait_hours:g} horas / "
                    f"not delegated within {self.settings.delegation_wait_hours:g} hours: "
                    + " | ".join(check.problems)
                )[:2000],
            )
            template = "delegation-failed"
        self.engine.emit(session, job, payload, topic=DNS_ZONE, key=zone.domain)
        self._notify(session, job, zone, template, found=check.found)

    def _notify(
        self,
        session: AsyncSession,
        job: ClaimedJob,
        zone: Zone,
        template: str,
        *,
        found: tuple[str, ...] = (),
    ) -> None:
        expected = list(zone.expected_nameservers)
        notification_id = uuid5(_IDS, f"{template}:{zone.domain}:{job.id}:{job.attempt}")
        data: dict[str, str | int | bool | None] = {
            "domain": zone.domain,
            "nameservers": "\n".join(expected),
            "found_nameservers": "\n".join(found),
            "provider": self.settings.provider_name,
            "wait_hours": int(self.settings.delegation_wait_hours),
        }
        for i, ns in enumerate(expected, start=1):
            data[f"nameserver_{i}"] = ns
        self.engine.emit(
            session,
            job,
            SendNotification(
                notification_id=notification_id,
                channel=Channel.EMAIL,
                template=template,
                recipient=Recipient(company_roles=NOTIFY_ROLES),
                data=data,
            ),
            topic=NOTIFY_COMMANDS,
            key=notification_id,
        )

    async def enqueue_due_rechecks(self, *, limit: int = 500) -> int:
        """Queue a check for every delegated, lost or failed domain whose time has come."""
        now = self.clock.now()
        interval = timedelta(seconds=self.settings.recheck_interval_s)
        async with self.engine.db.transaction() as session:
            zones = await repo.due_rechecks(session, now, limit)
            jobs = [
                NewJob(
                    "check-delegation",
                    {"domain": z.domain},
                    dedupe_key=f"recheck:{z.domain}:{_stamp(z.next_recheck_at)}",
                    company_id=z.company_id,
                )
                for z in zones
            ]
            for z in zones:
                z.next_recheck_at = now + interval
            if jobs:
                await self.engine.enqueue_many(session, jobs)
        return len(zones)

    async def recheck_loop(self) -> None:
        """Background: keep verifying delegated domains (and looking for late ones)."""
        while True:
            try:
                while await self.enqueue_due_rechecks() >= 500:
                    pass
            except Exception:
                log.exception("could not queue delegation re-checks")
            await asyncio.sleep(self.settings.recheck_tick_s)

    # --- jobs ------------------------------------------------------------------------------

    def _register_jobs(self) -> None:
        engine = self.engine
        cloudflare = RetryPolicy(base_delay=timedelta(seconds=self.settings.job_retry_base_s))
        engine.kind(
            "create-zone", queue=CLOUDFLARE_QUEUE, policy=cloudflare, on_failure=self._zone_failed
        )(self._create_zone_job)
        engine.kind("delete-zone", queue=CLOUDFLARE_QUEUE, policy=cloudflare)(self._delete_zone_job)
        engine.kind(
            "create-record",
            queue=CLOUDFLARE_QUEUE,
            policy=cloudflare,
            on_failure=self._record_failed,
        )(self._create_record_job)
        engine.kind(
            "update-record",
            queue=CLOUDFLARE_QUEUE,
            policy=cloudflare,
            on_failure=self._record_failed,
        )(self._update_record_job)
        engine.kind(
            "delete-record",
            queue=CLOUDFLARE_QUEUE,
            policy=cloudflare,
            on_failure=self._record_failed,
        )(self._delete_record_job)
        wait = self.settings.delegation_wait
        engine.kind(
            "wait-delegation",
            queue=CHECK_QUEUE,
            policy=RetryPolicy(
                max_attempts=self.schedule.attempts_within(wait),
                base_delay=self.schedule.base,
                max_delay=self.schedule.cap,
                factor=self.schedule.factor,
            ),
            on_failure=self._waiting_gave_up,
        )(self._wait_delegation_job)
        engine.kind(
            "check-delegation",
            queue=CHECK_QUEUE,
            policy=RetryPolicy(
                max_attempts=3, base_delay=timedelta(seconds=self.settings.job_retry_base_s * 6)
            ),
        )(self._check_delegation_job)
        engine.limit_target(self.settings.cloudflare_target, self.settings.cloudflare_concurrency)

    async def _create_zone_job(self, job: JobContext) -> None:
        domain = job.payload["domain"]
        server_ip = job.payload["server_ip"]
        zone = await job.step("zone", lambda: self._ensure_zone(domain))
        records = []
        for spec in template_for(domain, server_ip):
            step = f"record {spec.type.value} {spec.name}"
            records.append(
                await job.step(
                    step,
                    lambda s=spec: self._ensure_record(zone["zone_id"], domain, s),  # type: ignore[misc]
                )
            )
        assigned = [ns.lower() for ns in zone["nameservers"]]
        expected = [ns.lower() for ns in self.settings.own_nameservers] or assigned
        now = self.clock.now()
        async with job.transaction() as session:
            row = await repo.zone_for_update(session, domain)
            if row is None:
                return
            row.provider_zone_id = zone["zone_id"]
            row.assigned_nameservers = assigned
            row.expected_nameservers = expected
            row.updated_at = now
            for item in records:
                await repo.save_record(session, domain, DnsRecord.model_validate(item), now)
            if row.status not in ("creating", "failed"):
                return  # deleted meanwhile: the delete job removes it
            row.status = "active"
            self.engine.emit(
                session,
                job.job,
                ZoneCreated(
                    domain=domain,
                    zone_id=zone["zone_id"],
                    nameservers=tuple(expected),
                    service_id=row.service_id,
                ),
                topic=DNS_ZONE,
                key=domain,
            )
            await self._start_waiting(session, row, dedupe=str(job.job.id))
            self.engine.emit(
                session,
                job.job,
                DelegationPending(domain=domain, expected_nameservers=tuple(expected)),
                topic=DNS_ZONE,
                key=domain,
            )
            self._notify(session, job.job, row, "delegation-instructions")

    async def _ensure_zone(self, domain: str) -> dict[str, Any]:
        zone = await self.provider.ensure_zone(domain)
        return {"zone_id": zone.zone_id, "nameservers": list(zone.nameservers)}

    async def _ensure_record(self, zone_id: str, domain: str, spec: RecordSpec) -> dict[str, Any]:
        record = await self.provider.ensure_record(zone_id, domain, spec)
        return record.model_dump(mode="json")

    async def _zone_failed(
        self, session: AsyncSession, job: ClaimedJob, error: str, engine: JobEngine
    ) -> None:
        zone = await repo.zone_for_update(session, job.payload["domain"])
        if zone is not None and zone.status == "creating":
            zone.status = "failed"
            zone.updated_at = self.clock.now()

    async def _delete_zone_job(self, job: JobContext) -> None:
        domain = job.payload["domain"]
        async with self.engine.db.transaction() as session:
            row = await repo.zone(session, domain)
            zone_id = row.provider_zone_id if row else None
        if zone_id is None:
            found = await job.step("find", lambda: self._find_zone_id(domain))
            zone_id = found
        if zone_id is not None:
            await job.step("delete", lambda: self.provider.delete_zone(zone_id))
        async with job.transaction() as session:
            row = await repo.zone_for_update(session, domain)
            await repo.delete_records(session, domain)
            if row is None or row.status != "deleting":
                return  # created again meanwhile
            row.status = "deleted"
            row.provider_zone_id = None
            row.delegation = DelegationStatus.NOT_STARTED.value
            row.next_recheck_at = None
            row.updated_at = self.clock.now()
            self.engine.emit(
                session,
                job.job,
                ZoneDeleted(domain=domain, zone_id=zone_id or ""),
                topic=DNS_ZONE,
                key=domain,
            )

    async def _find_zone_id(self, domain: str) -> str | None:
        zone = await self.provider.find_zone(domain)
        return zone.zone_id if zone else None

    async def _provider_zone(self, domain: str) -> str:
        async with self.engine.db.transaction() as session:
            row = await repo.zone(session, domain)
        if row is None or row.status not in repo.ACTIVE or not row.provider_zone_id:
            raise PermanentError(
                f"a zona de {domain} não existe mais / the zone of {domain} no longer exists"
            )
        return row.provider_zone_id

    async def _revalidate(
        self, domain: str, record: dict[str, Any], *, replacing: str | None = None
    ) -> dict[str, Any]:
        async with self.engine.db.transaction() as session:
            existing = await repo.existing_records(session, domain)
        spec = validate_record(
            RecordSpec.model_validate(record), domain, existing, replacing=replacing
        )
        return spec.model_dump(mode="json")

    async def _create_record_job(self, job: JobContext) -> None:
        domain = job.payload["domain"]
        zone_id = await self._provider_zone(domain)
        # validated again in key order: an earlier job may have changed the zone
        record = await job.step("validate", lambda: self._revalidate(domain, job.payload["record"]))
        created = await job.step(
            "cloudflare",
            lambda: self._ensure_record(zone_id, domain, RecordSpec.model_validate(record)),
        )
        item = DnsRecord.model_validate(created)
        async with job.transaction() as session:
            await repo.save_record(session, domain, item, self.clock.now())
            self.engine.emit(
                session,
                job.job,
                RecordCreated(domain=domain, record=item),
                topic=DNS_ZONE,
                key=domain,
            )

    async def _update_record_job(self, job: JobContext) -> None:
        domain, record_id = job.payload["domain"], job.payload["record_id"]
        zone_id = await self._provider_zone(domain)
        record = await job.step(
            "validate",
            lambda: self._revalidate(domain, job.payload["record"], replacing=record_id),
        )

        async def update() -> dict[str, Any]:
            updated = await self.provider.update_record(
                zone_id, domain, record_id, RecordSpec.model_validate(record)
            )
            return updated.model_dump(mode="json")

        item = DnsRecord.model_validate(await job.step("cloudflare", update))
        async with job.transaction() as session:
            await repo.save_record(session, domain, item, self.clock.now())
            self.engine.emit(
                session,
                job.job,
                RecordUpdated(domain=domain, record=item),
                topic=DNS_ZONE,
                key=domain,
            )

    async def _delete_record_job(self, job: JobContext) -> None:
        domain, record_id = job.payload["domain"], job.payload["record_id"]
        zone_id = await self._provider_zone(domain)
        await job.step("cloudflare", lambda: self.provider.delete_record(zone_id, record_id))
        async with job.transaction() as session:
            await repo.delete_record(session, domain, record_id)
            self.engine.emit(
                session,
                job.job,
                RecordDeleted(domain=domain, record_id=record_id),
                topic=DNS_ZONE,
                key=domain,
            )

    async def _record_failed(
        self, session: AsyncSession, job: ClaimedJob, error: str, engine: JobEngine
    ) -> None:
        """The customer sees why their change did not happen."""
        kinds = {
            "create-record": "dns.create_record",
            "update-record": "dns.update_record",
            "delete-record": "dns.delete_record",
        }
        record = job.payload.get("record")
        self.engine.emit(
            session,
            job,
            RecordRejected(
                domain=job.payload["domain"],
                command=kinds.get(job.kind, job.kind),
                reason=error,
                record_id=job.payload.get("record_id"),
                record=RecordSpec.model_validate(record) if record else None,
            ),
            topic=DNS_ZONE,
            key=job.payload["domain"],
        )

    async def _wait_delegation_job(self, job: JobContext) -> None:
        outcome = await self.run_check(job, waiting=True)
        if outcome.status is DelegationStatus.PENDING:
            problems = " | ".join(outcome.check.problems) if outcome.check else ""
            raise DelegationNotYet(f"ainda não delegado / not delegated yet: {problems}")

    async def _waiting_gave_up(
        self, session: AsyncSession, job: ClaimedJob, error: str, engine: JobEngine
    ) -> None:
        """Attempts ran out before the deadline (e.g. the parent zone kept
        failing): report the domain as not delegated all the same."""
        zone = await repo.zone_for_update(session, job.payload["domain"])
        if zone is None or zone.delegation != DelegationStatus.PENDING.value:
            return
        zone.delegation = DelegationStatus.FAILED.value
        zone.updated_at = self.clock.now()
        self.engine.emit(
            session,
            job,
            DelegationFailed(
                domain=zone.domain,
                expected_nameservers=tuple(zone.expected_nameservers),
                found_nameservers=tuple(zone.delegation_found),
                reason=error[:2000],
            ),
            topic=DNS_ZONE,
            key=zone.domain,
        )

    async def _check_delegation_job(self, job: JobContext) -> None:
        outcome = await self.run_check(job, waiting=False)
        if outcome.check is not None and outcome.check.inconclusive:
            raise ResolutionError(" | ".join(outcome.check.problems))

    # --- queries -----------------------------------------------------------------------------

    async def list_zones(self, params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        company_id = _tenant(ctx)
        limit = _limit(params)
        zones = await repo.zones_page(
            ctx.session,
            company_id=company_id,
            after=params.get("cursor") or None,
            limit=limit + 1,
            delegation=params.get("delegation"),
        )
        page = zones[:limit]
        return {
            "items": [repo.zone_view(z) for z in page],
            "next_cursor": page[-1].domain if len(zones) > limit else None,
        }

    async def get_zone(self, params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        zone = await self._visible_zone(params, ctx)
        view = repo.zone_view(zone)
        view["records"] = [
            repo.record_view(r) for r in await repo.records(ctx.session, zone.domain)
        ]
        return view

    async def list_records(self, params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        zone = await self._visible_zone(params, ctx)
        limit = _limit(params)
        cursor = params.get("cursor")
        try:
            after = int(cursor) if cursor else None
        except ValueError:
            raise PermanentError(f"cursor inválido / invalid cursor: {cursor!r}") from None
        rows = await repo.records_page(
            ctx.session, zone.domain, after=after, limit=limit + 1, rtype=params.get("type")
        )
        page = rows[:limit]
        return {
            "items": [repo.record_view(r) for r in page],
            "next_cursor": str(page[-1].id) if len(rows) > limit else None,
        }

    async def _visible_zone(self, params: dict[str, Any], ctx: QueryContext) -> Zone:
        company_id = _tenant(ctx)
        raw = str(params.get("domain") or "")
        try:
            domain = normalize_domain(raw)
        except InvalidDomain:
            raise _not_found(raw) from None
        zone = await repo.zone(ctx.session, domain)
        if (
            zone is None
            or zone.status not in repo.VISIBLE
            or (company_id is not None and zone.company_id != company_id)
        ):
            raise _not_found(domain)
        return zone


def _tenant(ctx: QueryContext) -> UUID | None:
    """The company whose data a query may see; None (everything) for staff only."""
    if ctx.company_id is None and ctx.actor.kind != ActorKind.STAFF:
        raise NotFound("informe a empresa / a company is required")
    return ctx.company_id


def _limit(params: dict[str, Any]) -> int:
    try:
        return max(1, min(int(params.get("limit", 50)), 500))
    except (TypeError, ValueError):
        raise PermanentError("limit deve ser um número / limit must be a number") from None


def _stamp(value: datetime | None) -> str:
    return value.isoformat() if value else "none"
