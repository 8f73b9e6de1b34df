"""Prometheus metrics of a service process, served on ``/metrics``.

Names follow Prometheus' conventions: base units (seconds, messages),
``_total`` for counters, and labels that take few values — a topic, a job
kind, a route template, a provider — never an id. Every service exports the
same families (a family with no samples yet still shows its help and type),
so one dashboard reads them all; ``service`` tells them apart.

The port is ``HOSPEDA_METRICS_PORT`` (9464 in production, a free one per
process in ``make run`` and the tests; 0 turns the endpoint off).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

MESSAGES_HANDLED = Counter(
    "hospeda_messages_handled_total",
    "Messages applied by this service's consumers (duplicates not counted).",
    ["service", "topic"],
)
MESSAGES_DUPLICATE = Counter(
    "hospeda_messages_duplicate_total",
    "Redelivered messages the inbox recognised and skipped.",
    ["service", "topic"],
)
MESSAGES_FAILED = Counter(
    "hospeda_messages_failed_total",
    "Messages that could not be applied and went to the dead-letter topic.",
    ["service", "topic", "reason"],
)
HANDLER_DURATION = Histogram(
    "hospeda_message_handler_duration_seconds",
    "Time to apply one message, its transaction included.",
    ["service", "topic"],
    buckets=_LATENCY_BUCKETS,
)
MESSAGES_PUBLISHED = Counter(
    "hospeda_messages_published_total",
    "Messages the outbox relay published (committed state changes), by type.",
    ["service", "topic", "type"],
)
QUERIES_ANSWERED = Counter(
    "hospeda_queries_answered_total",
    "Request/reply queries answered, by query name and outcome.",
    ["service", "query", "outcome"],
)
JOBS = Gauge(
    "hospeda_jobs",
    "Durable jobs by queue and state (sampled from the service's database).",
    ["service", "queue", "state"],
)
JOB_RETRIES = Counter(
    "hospeda_job_retries_total",
    "Job attempts that failed and were scheduled again.",
    ["service", "kind"],
)
JOBS_FAILED = Counter(
    "hospeda_jobs_failed_total",
    "Jobs that failed for good (and went to the dead-letter topic).",
    ["service", "kind"],
)
OUTBOX_BACKLOG = Gauge(
    "hospeda_outbox_backlog_messages",
    "Committed messages waiting in the outbox for the relay.",
    ["service"],
)
CONSUMER_LAG = Gauge(
    "hospeda_consumer_lag_messages",
    "Messages on a topic not yet committed by one of this service's consumer groups.",
    ["service", "group", "topic"],
)
DLQ_MESSAGES = Gauge(
    "hospeda_dlq_messages",
    "Messages held by the dead-letter topics of the topics this service consumes.",
    ["service", "topic"],
)
EXTERNAL_DURATION = Histogram(
    "hospeda_external_request_duration_seconds",
    "Calls to outside systems (WHM, Cloudflare, Stripe…), by provider and status class.",
    ["service", "provider", "method", "status_class"],
    buckets=_LATENCY_BUCKETS,
)
EXTERNAL_ERRORS = Counter(
    "hospeda_external_request_errors_total",
    "Failed calls to outside systems: 5xx, 429, timeouts and connection errors.",
    ["service", "provider", "error"],
)
HTTP_REQUESTS = Counter(
    "hospeda_http_requests_total",
    "HTTP requests served, by route template and status code.",
    ["service", "route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "hospeda_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["service", "route", "method"],
    buckets=_LATENCY_BUCKETS,
)

FAMILIES = (
    MESSAGES_HANDLED,
    MESSAGES_DUPLICATE,
    MESSAGES_FAILED,
    HANDLER_DURATION,
    MESSAGES_PUBLISHED,
    QUERIES_ANSWERED,
    JOBS,
    JOB_RETRIES,
    JOBS_FAILED,
    OUTBOX_BACKLOG,
    CONSUMER_LAG,
    DLQ_MESSAGES,
    EXTERNAL_DURATION,
    EXTERNAL_ERRORS,
    HTTP_REQUESTS,
    HTTP_DURATION,
)

service_name = "unknown"
"""This process's service (one per process; set by ``serve``)."""


def serve(service: str, *, host: str, port: int) -> None:
    """Start the ``/metrics`` endpoint (a thread) unless ``port`` is 0."""
    global service_name
    service_name = service
    if port == 0:
        return
    try:
        start_http_server(port, addr=host)
    except OSError as exc:  # a busy port must not stop the service
        log.warning("metrics endpoint not started on %s:%d: %s", host, port, exc)
        return
    log.info("metrics on http://%s:%d/metrics", host, port)


# --- outside systems: every httpx call ------------------------------------------------

_providers: dict[str, str] = {
    "api.stripe.com": "stripe",
    "api.cloudflare.com": "cloudflare",
}


def name_provider(provider: str, url: str | None) -> None:
    """Label calls to ``url``'s host as ``provider`` (e.g. ``whm``); unknown hosts are ``other``."""
    if not url:
        return
    import httpx

    _providers[httpx.URL(url).netloc.decode()] = provider


def _provider_of(request: Any) -> str:
    return _providers.get(request.url.netloc.decode(), "other")


def measure_httpx() -> None:
    """Time every httpx call (async and sync) by provider; count its failures."""
    import httpx

    original_async = httpx.AsyncHTTPTransport.handle_async_request
    original_sync = httpx.HTTPTransport.handle_request

    async def handle_async_request(self: Any, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = await _measured(request, lambda: original_async(self, request))
        return response

    def handle_request(self: Any, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = original_sync(self, request)
        except Exception as exc:
            _record(request, started, None, exc)
            raise
        _record(request, started, response, None)
        return response

    httpx.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign]
    httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]


async def _measured(request: Any, send: Callable[[], Awaitable[Any]]) -> Any:
    started = time.perf_counter()
    try:
        response = await send()
    except Exception as exc:
        _record(request, started, None, exc)
        raise
    _record(request, started, response, None)
    return response


def _record(request: Any, started: float, response: Any, exc: BaseException | None) -> None:
    provider = _provider_of(request)
    if provider == "other" and request.url.host in ("127.0.0.1", "localhost", "::1"):
        return  # our own probes and health checks, not an outside system
    status_class = f"{response.status_code // 100}xx" if response is not None else "error"
    EXTERNAL_DURATION.labels(service_name, provider, request.method, status_class).observe(
        time.perf_counter() - started
    )
    error: str | None = None
    if exc is not None:
        error = "timeout" if "Timeout" in type(exc).__name__ else "connection"
    elif response.status_code == 429:
        error = "rate_limited"
    elif response.status_code >= 500:
        error = "server_error"
    if error:
        EXTERNAL_ERRORS.labels(service_name, provider, error).inc()


# --- HTTP served (the gateway, billing's webhooks) -------------------------------------


class HttpMetrics:
    """ASGI middleware: requests by route template (``/api/v1/invoices/{invoice_id}``,
    never the id itself) and status; unmatched paths count as ``unmatched``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            template = _route_template(scope)
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(service_name, template, method, str(status["code"])).inc()
            HTTP_DURATION.labels(service_name, template, method).observe(
                time.perf_counter() - started
            )


@contextmanager
def external_call(provider: str, method: str) -> Iterator[None]:
    """Measure a call to an outside system that is not made with httpx (SMTP)."""
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        EXTERNAL_DURATION.labels(service_name, provider, method, "error").observe(
            time.perf_counter() - started
        )
        error = "timeout" if "Timeout" in type(exc).__name__ else "failed"
        EXTERNAL_ERRORS.labels(service_name, provider, error).inc()
        raise
    EXTERNAL_DURATION.labels(service_name, provider, method, "ok").observe(
        time.perf_counter() - started
    )


def _route_template(scope: dict[str, Any]) -> str:
    """The matched route's path template, prefixes included."""
    # FastAPI ≥ 0.16x includes routers lazily: scope["route"] is the route as
    # declared (no prefix); the effective context has the full template.
    fastapi_scope = scope.get("fastapi")
    context = (
        fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    )
    template = getattr(context, "path_format", None)
    if not template:
        route = scope.get("route")
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else "unmatched"
