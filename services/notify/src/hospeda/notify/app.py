"""Composition root of the notify service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from hospeda.contracts.topics import NOTIFY_JOB
from hospeda.notify.adapters.smtp import Mailer, SmtpMailer
from hospeda.notify.adapters.webpush import Pusher, WebPusherClient
from hospeda.notify.config import NotifySettings
from hospeda.notify.handlers import build_router
from hospeda.notify.service.alerts import Alerts
from hospeda.notify.service.delivery import Notifier
from hospeda.notify.vapid import vapid_public_key
from hospeda.runtime.clock import Clock
from hospeda.runtime.jobs import JobEngine, RetryPolicy
from hospeda.runtime.messaging import MessageRouter
from hospeda.runtime.migrate import service_migrations
from hospeda.runtime.service import ServiceRuntime


@dataclass
class Notify:
    """The service's parts, for the process entry point and for tests."""

    settings: NotifySettings
    runtime: ServiceRuntime
    engine: JobEngine
    notifier: Notifier


def create_app(
    settings: NotifySettings | None = None,
    *,
    mailer: Mailer | None = None,
    pusher: Pusher | None = None,
    clock: Clock | None = None,
) -> Notify:
    settings = settings or NotifySettings()
    router = MessageRouter("notify")
    runtime = ServiceRuntime(settings, router=router, migrations=[service_migrations("notify")])
    engine = JobEngine(runtime.db, service="notify", job_topic=NOTIFY_JOB, clock=clock)
    engine.limit_target("smtp", settings.smtp_concurrency)
    engine.limit_target("push", settings.push_concurrency)
    policy = RetryPolicy(
        max_attempts=settings.retry_max_attempts,
        base_delay=timedelta(seconds=settings.retry_base_delay_s),
    )
    if pusher is None:
        client = WebPusherClient(settings)
        runtime.on_stop(client.close)
        pusher = client
    notifier = Notifier(engine, mailer or SmtpMailer(settings), pusher, settings, policy=policy)
    alerts = Alerts(notifier, window=timedelta(seconds=settings.alert_window_s))
    assert settings.vapid_private_key is not None  # generated outside production, required in it
    public_key = vapid_public_key(settings.vapid_private_key.get_secret_value())
    build_router(notifier, alerts, vapid_public_key=public_key, router=router)
    runtime.jobs(engine, concurrency=settings.smtp_concurrency + settings.push_concurrency)
    return Notify(settings, runtime, engine, notifier)


def create_runtime(
    settings: NotifySettings | None = None, *, mailer: Mailer | None = None
) -> ServiceRuntime:
    return create_app(settings, mailer=mailer).runtime
