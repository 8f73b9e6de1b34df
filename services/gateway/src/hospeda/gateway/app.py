"""Composition root of the gateway: the HTTP API, and the Kafka clients behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from hospeda.gateway.config import GatewaySettings
from hospeda.gateway.routes import ops, pages
from hospeda.runtime.messaging import MessageRouter
from hospeda.runtime.migrate import service_migrations
from hospeda.runtime.rpc import QueryClient
from hospeda.runtime.service import ServiceRuntime


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Kafka clients belong to the running event loop: build them here.
        runtime = ServiceRuntime(
            settings, router=MessageRouter("gateway"), migrations=[service_migrations("gateway")]
        )
        queries = QueryClient(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            producer=runtime.producer,
            instance_id=settings.instance_id,
            timeout=settings.query_timeout_s,
        )
        await runtime.start()
        await queries.start()
        app.state.runtime, app.state.queries = runtime, queries
        try:
            yield
        finally:
            await queries.stop()
            await runtime.stop()

    app = FastAPI(
        title="Hospeda API",
        version="1.0.0",
        description="A API da Hospeda / The Hospeda API.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(pages.router)
    app.include_router(ops.router, prefix="/api/v1")
    FastAPIInstrumentor.instrument_app(app, tracer_provider=trace.get_tracer_provider())
    return app
