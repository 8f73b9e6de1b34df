"""Composition root of the billing service."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from hospeda.billing.adapters.pix_psp import ApiPix, PixProvider
from hospeda.billing.adapters.stripe import PaymentGateway, StripeGateway
from hospeda.billing.config import BillingSettings
from hospeda.billing.demo import DEMO_CATALOG
from hospeda.billing.handlers import build_router
from hospeda.billing.jobs import register_jobs
from hospeda.billing.service import Billing
from hospeda.billing.webhooks import run_ingress, serve
from hospeda.contracts.topics import BILLING_JOB
from hospeda.runtime.clock import Clock, SystemClock
from hospeda.runtime.jobs import JobEngine
from hospeda.runtime.messaging import MessageRouter
from hospeda.runtime.migrate import service_migrations
from hospeda.runtime.service import ServiceRuntime

log = logging.getLogger(__name__)


@dataclass
class BillingApp:
    """The billing process: the runtime, the use cases and the job engine."""

    runtime: ServiceRuntime
    billing: Billing
    engine: JobEngine


def build(
    settings: BillingSettings | None = None,
    *,
    clock: Clock | None = None,
    stripe: PaymentGateway | None = None,
    pix_psp: PixProvider | None = None,
) -> BillingApp:
    """Wire billing: the consumer, the job worker (Stripe calls), the clock
    loop (renewals, dunning), the webhook ingress and, in a demo, the catalog."""
    settings = settings or BillingSettings()
    clock = clock or SystemClock()
    router = MessageRouter("billing")
    runtime = ServiceRuntime(settings, router=router, migrations=[service_migrations("billing")])
    engine = JobEngine(runtime.db, service="billing", job_topic=BILLING_JOB)
    if stripe is None and settings.stripe_secret_key is not None:
        stripe = StripeGateway(
            secret_key=settings.stripe_secret_key.get_secret_value(),
            webhook_secret=settings.stripe_webhook_secret.get_secret_value()
            if settings.stripe_webhook_secret
            else None,
            api_base=settings.stripe_api_base,
            timeout=settings.stripe_timeout_s,
            webhook_tolerance=settings.stripe_webhook_tolerance_s,
        )
    if pix_psp is None and settings.pix_psp_ready():
        pix_psp = psp_client(settings)
        runtime.on_stop(pix_psp.close)
    billing = Billing(
        db=runtime.db,
        settings=settings,
        clock=clock,
        engine=engine,
        stripe=stripe,
        pix_psp=pix_psp,
    )
    register_jobs(
        engine, billing, attempts=settings.job_attempts, base_delay=settings.job_retry_base_s
    )
    build_router(billing, engine, router)
    runtime.jobs(engine, concurrency=10)

    async def clock_loop() -> None:
        while True:
            await billing.tick()
            await asyncio.sleep(settings.tick_interval_s)

    runtime.background("billing-clock", clock_loop)
    if settings.webhook_port:
        server = serve(billing, host=settings.webhook_host, port=settings.webhook_port)
        runtime.background("webhook-ingress", lambda: run_ingress(server))
    if pix_psp is not None and settings.pix_webhook_url:
        psp, url = pix_psp, settings.pix_webhook_url

        async def register_pix_webhook() -> None:
            await psp.register_webhook(url)  # a failure is retried with backoff
            log.info("Pix webhook registered at the PSP: %s", url)
            await asyncio.Event().wait()

        runtime.background("pix-webhook", register_pix_webhook)
    if settings.demo:

        async def seed() -> None:
            async with runtime.db.transaction() as session:
                created = await billing.seed_catalog(billing.unit(session), DEMO_CATALOG)
            log.info("demo catalog: %d new items", created)

        runtime.background("demo-catalog", seed)
    return BillingApp(runtime, billing, engine)


def psp_client(settings: BillingSettings) -> ApiPix:
    """The API Pix client the settings describe (``pix_psp_ready()``)."""
    assert settings.pix_psp_url and settings.pix_key and settings.pix_psp_client_id
    secret = settings.pix_psp_client_secret
    webhook = settings.pix_webhook_secret
    return ApiPix(
        base_url=settings.pix_psp_url,
        token_url=settings.pix_psp_token_url,
        client_id=settings.pix_psp_client_id,
        client_secret=secret.get_secret_value() if secret else "",
        key=settings.pix_key,
        webhook_secret=webhook.get_secret_value() if webhook else None,
        client_cert=_client_cert(settings),
        timeout=settings.pix_psp_timeout_s,
        webhook_tolerance=settings.stripe_webhook_tolerance_s,
    )


def _client_cert(settings: BillingSettings) -> str | tuple[str, str] | None:
    if not settings.pix_psp_cert_file:
        return None
    if settings.pix_psp_key_file:
        return (settings.pix_psp_cert_file, settings.pix_psp_key_file)
    return settings.pix_psp_cert_file  # one PEM with the certificate and its key


def create_runtime(settings: BillingSettings | None = None) -> ServiceRuntime:
    return build(settings).runtime
