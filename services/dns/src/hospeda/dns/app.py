"""Composition root of the dns service."""

from __future__ import annotations

from redis.asyncio import Redis

from hospeda.contracts.topics import DNS_JOB
from hospeda.dns.adapters.cloudflare import CloudflareProvider
from hospeda.dns.adapters.ratelimit import RateLimiter, token_fingerprint
from hospeda.dns.adapters.resolver import DelegationChecker
from hospeda.dns.config import DnsSettings
from hospeda.dns.handlers import build_router
from hospeda.dns.service import DnsService
from hospeda.runtime.clock import Clock, SystemClock
from hospeda.runtime.jobs import JobEngine
from hospeda.runtime.messaging import MessageRouter
from hospeda.runtime.migrate import service_migrations
from hospeda.runtime.service import ServiceRuntime


def create_runtime(
    settings: DnsSettings | None = None, *, clock: Clock | None = None
) -> ServiceRuntime:
    settings = settings or DnsSettings()
    clock = clock or SystemClock()
    router = MessageRouter("dns")  # filled below, once the engine has the runtime's database
    runtime = ServiceRuntime(settings, router=router, migrations=[service_migrations("dns")])
    engine = JobEngine(runtime.db, service="dns", job_topic=DNS_JOB, clock=clock)
    redis = Redis.from_url(settings.redis_url)
    token = settings.cloudflare_api_token.get_secret_value()
    provider = CloudflareProvider(
        api_token=token,
        account_id=settings.cloudflare_account_id,
        limiter=RateLimiter(
            redis,
            name=f"cloudflare:{token_fingerprint(token)}",
            limit=settings.cloudflare_rate_limit,
            window_s=settings.cloudflare_rate_window_s,
        ),
        base_url=settings.cloudflare_base_url,
        timeout=settings.cloudflare_timeout_s,
        max_429_waits=settings.cloudflare_max_429_waits,
    )
    checker = DelegationChecker(
        root_servers=settings.root_servers,
        port=settings.resolver_port,
        timeout=settings.resolver_timeout_s,
        tries=settings.resolver_tries,
    )
    service = DnsService(
        settings=settings, engine=engine, provider=provider, checker=checker, clock=clock
    )
    build_router(service, engine, router)
    runtime.jobs(engine, concurrency=settings.worker_concurrency)
    runtime.background("delegation-rechecks", service.recheck_loop)
    runtime.on_stop(provider.close)
    runtime.on_stop(redis.aclose)
    return runtime
