"""Composition root of the notify service."""

from __future__ import annotations

from datetime import timedelta

from hospeda.contracts.topics import NOTIFY_COMMANDS, NOTIFY_JOB
from hospeda.notify import handlers
from hospeda.notify.adapters.smtp import Mailer, SmtpMailer
from hospeda.notify.config import NotifySettings
from hospeda.notify.service import Notifier
from hospeda.runtime.jobs import JobEngine, RetryPolicy
from hospeda.runtime.jobs_api import expose_jobs
from hospeda.runtime.messaging import MessageRouter
from hospeda.runtime.migrate import service_migrations
from hospeda.runtime.service import ServiceRuntime


def create_runtime(
    settings: NotifySettings | None = None, *, mailer: Mailer | None = None
) -> ServiceRuntime:
    settings = settings or NotifySettings()
    router = MessageRouter("notify")
    runtime = ServiceRuntime(settings, router=router, migrations=[service_migrations("notify")])
    engine = JobEngine(runtime.db, service="notify", job_topic=NOTIFY_JOB)
    engine.limit_target("smtp", settings.smtp_concurrency)
    policy = RetryPolicy(
        max_attempts=settings.retry_max_attempts,
        base_delay=timedelta(seconds=settings.retry_base_delay_s),
    )
    handlers.register(router, Notifier(engine, mailer or SmtpMailer(settings), policy=policy))
    expose_jobs(router, engine, commands=NOTIFY_COMMANDS)
    runtime.jobs(engine, concurrency=settings.smtp_concurrency)
    return runtime
