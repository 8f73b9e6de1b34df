"""Composition root of the gateway: ``create_app`` builds the HTTP API and what
stands behind it (its database, Redis, the Kafka clients, the live event hub,
the use cases), once, at start-up. Routes get those collaborators through
``deps``; nothing imports this module but the entry points."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as redis
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from hospeda.gateway import service
from hospeda.gateway.api import (
    CSRF_HEADER,
    SAFE_METHODS,
    RequestIds,
    SessionCookies,
    refuse_undeclared_routes,
)
from hospeda.gateway.auth import Authenticator, session_cookie_name
from hospeda.gateway.config import GatewaySettings
from hospeda.gateway.demo import seed
from hospeda.gateway.deps import Collaborators
from hospeda.gateway.events import EventHub, EventLog
from hospeda.gateway.forward import Forwarder
from hospeda.gateway.headers import SecurityHeaders
from hospeda.gateway.idempotency import Idempotency
from hospeda.gateway.limits import Limiter
from hospeda.gateway.operations import Operations
from hospeda.gateway.permissions import Permission, Scope, scope_of
from hospeda.gateway.problems import install as install_problems
from hospeda.gateway.routes import (
    activity,
    auth,
    billing,
    company,
    dns,
    docs,
    me,
    notifications,
    ops,
    pages,
    passkeys,
    provisioning,
    staff,
)
from hospeda.gateway.security import Passwords
from hospeda.gateway.sessions import Sessions
from hospeda.gateway.web import install as install_web
from hospeda.gateway.web import pwa
from hospeda.runtime.broker import kafka_client_options
from hospeda.runtime.clock import Clock, SystemClock
from hospeda.runtime.messaging import MessageRouter
from hospeda.runtime.metrics import HttpMetrics
from hospeda.runtime.migrate import service_migrations
from hospeda.runtime.rpc import QueryClient
from hospeda.runtime.service import ServiceRuntime

API_PREFIX = "/api/v1"

DESCRIPTION = """\
A API da Hospeda: contas, empresas, permissões e tudo o que os serviços da
plataforma oferecem. *The Hospeda API: accounts, companies, permissions and
everything the platform's services offer.*

- **Autenticação / Authentication**: the web app uses the session cookie and
  echoes the CSRF token (cookie `__Host-hospeda_csrf`, or `csrf_token` in
  session answers) in `X-CSRF-Token` on every change; partners use
  `Authorization: Bearer hsp_…` (API tokens: one company, chosen permissions).
- **Permissões / Permissions**: each operation names its permission
  (`x-permission`); roles per company are owner, admin, billing, technical,
  viewer.
- **Erros / Errors**: RFC 9457 `application/problem+json`, in pt-BR or
  English (`Accept-Language`). Another company's ids answer 404, like missing ones.
- **Comandos / Commands** answer `202` with an `operation_id`; follow it on
  `GET /api/v1/events` (Server-Sent Events) or poll
  `GET /api/v1/operations/{operation_id}`. `Idempotency-Key` makes POSTs safe
  to repeat.
- **Listas / Lists** are cursor-paginated: `limit`, then `cursor=next_cursor`.
"""


def build_runtime(settings: GatewaySettings) -> ServiceRuntime:
    """The gateway's database, producer and background tasks (also what ``migrate`` needs)."""
    return ServiceRuntime(
        settings, router=MessageRouter("gateway"), migrations=[service_migrations("gateway")]
    )


def _build(settings: GatewaySettings, clock: Clock) -> Collaborators:
    runtime = build_runtime(settings)
    db = runtime.db
    client = redis.from_url(settings.redis_url)
    sessions = Sessions(client, settings)
    operations = Operations(client)
    events = EventHub(settings, operations, EventLog(client))
    runtime.background("live-events", events.run)
    queries = QueryClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        producer=runtime.producer,
        instance_id=settings.instance_id,
        timeout=settings.query_timeout_s,
        replication=settings.topic_replication,
        client_options=kafka_client_options(settings),
    )
    identity = service.IdentityParts(
        db=db,
        settings=settings,
        passwords=Passwords(settings),
        sessions=sessions,
        limiter=Limiter(client, settings),
        clock=clock,
    )
    return Collaborators(
        settings=settings,
        runtime=runtime,
        redis=client,
        queries=queries,
        auth=Authenticator(db=db, sessions=sessions, settings=settings, clock=clock),
        idempotency=Idempotency(client, ttl_s=settings.idempotency_ttl_s),
        events=events,
        operations=operations,
        accounts=service.Accounts(identity),
        sign_in=service.SignIn(identity),
        companies=service.Companies(identity),
        tokens=service.Tokens(identity),
        passkeys=service.Passkeys(identity, client),
        staff=service.Staff(identity),
        forward=Forwarder(db=db, queries=queries, operations=operations),
        limiter=identity.limiter,
    )


def create_app(settings: GatewaySettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The gateway: settings from the environment unless given; the system clock unless given."""
    settings = settings or GatewaySettings()
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Kafka and Redis clients belong to the running event loop: build them here.
        parts = _build(settings, clock)
        try:
            await parts.runtime.start()
            await parts.queries.start()
            app.state.collaborators = parts
            if settings.demo:
                await seed(parts.accounts, db=parts.runtime.db, clock=clock)
            yield
        finally:
            await parts.queries.stop()
            await parts.runtime.stop()
            await parts.redis.aclose()

    app = FastAPI(
        title="Hospeda API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load Swagger UI from a CDN: ours is in routes/docs.py
        redoc_url=None,
        # FastAPI's own server span per request, named "GET /api/v1/…" when the route is
        # chosen (the contrib instrumentor matched every route a second time to name it);
        # no span per dependency, and logs and metrics stay ours (JSON lines, /metrics)
        telemetry={"operation_spans": False, "logs": False, "metrics": False},
    )
    app.state.settings = settings
    install_problems(app)
    app.add_middleware(SessionCookies, settings=settings)
    app.add_middleware(HttpMetrics)  # requests by route template and status (/metrics)
    # the client address and scheme: from X-Forwarded-* only when the peer is a trusted
    # proxy (serve with ``uvicorn_options``, so uvicorn's own default does not apply first)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_networks)
    app.add_middleware(RequestIds)  # outermost of ours: the access log line has the id too
    app.add_middleware(SecurityHeaders, settings=settings)  # CSP, HSTS, nosniff… on every answer
    redact_access_log()
    app.include_router(pages.router)
    app.include_router(pwa.router)  # manifest, service worker, offline page
    install_web(app)  # the web app's pages and /static
    docs.install(app)  # /docs (Swagger UI from this origin), and the partners' guide
    for router in (
        auth.router,
        passkeys.router,
        me.router,
        company.router,
        billing.router,
        provisioning.router,
        dns.router,
        activity.router,
        staff.router,
        notifications.router,
        ops.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    refuse_undeclared_routes(app)
    app.openapi = lambda: _openapi(app, settings)  # type: ignore[method-assign]
    return app


def uvicorn_options(settings: GatewaySettings) -> dict[str, Any]:
    """How to serve the app: forwarded headers are the app's business (its trusted
    proxies), not uvicorn's default list, which trusts 127.0.0.1."""
    return {"proxy_headers": False, "log_config": None, "lifespan": "on"}


class _RedactQuery(logging.Filter):
    """Access log lines without query strings: e-mailed links carry single-use tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, mark, _ = args[2].partition("?")
            if mark:
                record.args = (*args[:2], path + "?[redacted]", *args[3:])
        return True


def redact_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactQuery) for f in access.filters):
        access.addFilter(_RedactQuery())


def _openapi(app: FastAPI, settings: GatewaySettings) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schema.setdefault("components", {})["securitySchemes"] = {
        "session": {"type": "apiKey", "in": "cookie", "name": session_cookie_name(settings)},
        "csrf": {"type": "apiKey", "in": "header", "name": CSRF_HEADER},
        "token": {"type": "http", "scheme": "bearer", "description": "An API token (hsp_…)."},
    }
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            permission = operation.get("x-permission")
            if permission is None:
                continue
            scope = scope_of(Permission(permission))
            session: dict[str, list[str]] = {"session": []}
            if method.upper() not in SAFE_METHODS:
                session["csrf"] = []
            if scope is Scope.PUBLIC:
                operation["security"] = []
            elif scope is Scope.COMPANY:
                operation["security"] = [session, {"token": []}]
            else:
                operation["security"] = [session]
    _link_created_to_readers(schema)
    app.openapi_schema = schema
    return schema


# what a client reads next after a command or a creation (OpenAPI links: generated
# clients and schemathesis follow them): (method, path) → (reading path, its parameter,
# where the value is in the answer)
RESOURCE_LINKS = {
    ("post", "/api/v1/orders"): ("/api/v1/orders/{order_id}", "order_id", "resource_id"),
    ("post", "/api/v1/ops/probes"): ("/api/v1/ops/probes/{probe_id}", "probe_id", "probe_id"),
}
OPERATION_PATH = "/api/v1/operations/{operation_id}"


def _link_created_to_readers(schema: dict[str, Any]) -> None:
    paths = schema.get("paths", {})

    def operation_id(path: str) -> str:
        found: str = paths[path]["get"]["operationId"]
        return found

    follow = operation_id(OPERATION_PATH)
    for path, item in paths.items():
        for method, operation in item.items():
            for status, answer in operation.get("responses", {}).items():
                if status not in ("201", "202"):
                    continue
                links: dict[str, Any] = {}
                body = answer.get("content", {}).get("application/json", {}).get("schema", {})
                if body.get("$ref", "").endswith("/Accepted"):
                    links["operation"] = {
                        "operationId": follow,
                        "parameters": {"operation_id": "$response.body#/operation_id"},
                        "description": "Acompanhar o comando / Follow the command",
                    }
                target = RESOURCE_LINKS.get((method, path))
                if target is not None:
                    reader, parameter, field = target
                    links["resource"] = {
                        "operationId": operation_id(reader),
                        "parameters": {parameter: f"$response.body#/{field}"},
                        "description": "Ler o que foi criado / Read what was created",
                    }
                if links:
                    answer["links"] = links
