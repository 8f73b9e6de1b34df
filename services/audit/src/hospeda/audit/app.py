"""Composition root of the audit service."""

from __future__ import annotations

import logging

from hospeda.audit import repository
from hospeda.audit.config import AuditSettings
from hospeda.audit.grants import refuse_a_role_that_can_rewrite_the_trail
from hospeda.audit.handlers import build_router
from hospeda.audit.keys import load_data_box, load_keyring
from hospeda.audit.queries import Reader
from hospeda.audit.service import AuditLog
from hospeda.audit.subjects import SubjectKeys
from hospeda.runtime.clock import Clock, SystemClock
from hospeda.runtime.messaging import MessageRouter
from hospeda.runtime.migrate import service_migrations
from hospeda.runtime.service import ServiceRuntime

log = logging.getLogger(__name__)


def create_runtime(
    settings: AuditSettings | None = None, *, clock: Clock | None = None
) -> ServiceRuntime:
    return build(settings, clock=clock)[0]


def build(
    settings: AuditSettings | None = None, *, clock: Clock | None = None
) -> tuple[ServiceRuntime, AuditLog]:
    """The service process and its log (tests reach the log directly)."""
    settings = settings or AuditSettings()
    clock = clock or SystemClock()
    keyring = load_keyring(settings)  # refuses to go on without keys in production
    router = MessageRouter("audit")  # filled below, once the log has the runtime's database
    runtime = ServiceRuntime(settings, router=router, migrations=[service_migrations("audit")])
    audit_log = AuditLog(
        settings=settings,
        db=runtime.db,
        keyring=keyring,
        subjects=SubjectKeys(load_data_box(settings)),
        clock=clock,
    )
    built = build_router(audit_log, Reader(audit_log))
    router.catch_all.update(built.catch_all)
    router.queries.update(built.queries)

    async def prepare() -> None:
        await refuse_a_role_that_can_rewrite_the_trail(runtime.db, settings)
        await audit_log.ensure_head()
        await audit_log.import_legacy()
        async with runtime.db.read() as connection:
            guard = await repository.protection(connection)
        if guard.may_change or guard.missing_triggers:
            log.warning(
                "audit store: role %s may %s; append-only triggers missing: %s",
                guard.role,
                ", ".join(guard.may_change) or "only INSERT and SELECT",
                guard.missing_triggers or "none",
            )

    runtime.on_start(prepare)
    runtime.background("audit-checkpoints", audit_log.checkpoint_loop)
    runtime.background("audit-retention", audit_log.retention_loop)
    return runtime, audit_log
