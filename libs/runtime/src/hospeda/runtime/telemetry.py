"""Traces and logs.

Traces follow a request from the gateway through every Kafka hop (the W3C
trace context travels in HTTP and Kafka headers) to the external call:
FastStream's middleware and our consumer spans on Kafka, FastAPI on the
gateway, httpx (WHM, Cloudflare, Stripe), SQLAlchemy and redis everywhere.
Spans go to an OTLP/HTTP collector when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is
set, and to stderr, one line each, with ``HOSPEDA_TRACE_CONSOLE=true``.
Logs are JSON lines carrying the service, the trace and span ids and the
correlation id of the message being handled, with secrets redacted.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from pythonjsonlogger.json import JsonFormatter

from hospeda.runtime.redaction import redact_text

_configured: set[str] = set()
_instrumented = False

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "hospeda_correlation_id", default=None
)
"""The correlation id of the message (or request) being handled, for log lines."""


@contextmanager
def correlated(value: object | None) -> Iterator[None]:
    """Log lines inside carry ``value`` as their ``correlation_id``."""
    token = correlation_id.set(str(value) if value is not None else None)
    try:
        yield
    finally:
        correlation_id.reset(token)


class _ConsoleSpans(SpanExporter):
    """One short JSON line per finished span on stderr (``HOSPEDA_TRACE_CONSOLE``)."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            context = span.get_span_context()
            parent = span.parent
            line = {
                "span": span.name,
                "kind": span.kind.name.lower(),
                "trace_id": format(context.trace_id, "032x") if context else None,
                "span_id": format(context.span_id, "016x") if context else None,
                "parent_id": format(parent.span_id, "016x") if parent else None,
                "service": span.resource.attributes.get("service.name"),
                "duration_ms": round(((span.end_time or 0) - (span.start_time or 0)) / 1e6, 3),
                "status": span.status.status_code.name.lower(),
            }
            sys.stderr.write(json.dumps(line) + "\n")
        return SpanExportResult.SUCCESS


def setup_tracing(
    service: str,
    *,
    instance_id: str,
    otlp_endpoint: str | None,
    console: bool = False,
) -> TracerProvider:
    """Install the process-wide tracer provider (once per process) and switch
    on the instrumentation of httpx and redis."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    exporting = bool(otlp_endpoint) or console
    # Without an exporter, record nothing but still mint trace and span ids:
    # non-recording spans carry the trace across hops (logs, audit entries and
    # probes show it) at a fraction of the cost of recorded ones.
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": f"hospeda-{service}", "service.instance.id": instance_id}
        ),
        sampler=ParentBased(ALWAYS_ON) if exporting else ALWAYS_OFF,
    )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces"))
        )
    if console:
        provider.add_span_processor(SimpleSpanProcessor(_ConsoleSpans()))
    trace.set_tracer_provider(provider)
    instrument_libraries()
    return provider


def instrument_libraries() -> None:
    """httpx clients make client spans and carry the trace context
    (``traceparent``) to the server, and every outside call is measured; redis
    commands get spans when spans are recorded (a redis span carries nothing
    onwards, and its wrapper cost a gateway read about 8% of its CPU)."""
    global _instrumented
    if _instrumented:
        return
    _instrumented = True
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    from hospeda.runtime import metrics as service_metrics

    HTTPXClientInstrumentor().instrument(tracer_provider=trace.get_tracer_provider())
    if recording():
        RedisInstrumentor().instrument(tracer_provider=trace.get_tracer_provider())
    service_metrics.measure_httpx()


def recording() -> bool:
    """Whether spans are recorded (an exporter is on) rather than only carried."""
    provider = trace.get_tracer_provider()
    return isinstance(provider, TracerProvider) and provider.sampler is not ALWAYS_OFF


def instrument_engine(engine: Any) -> None:
    """Spans for the statements of one SQLAlchemy engine (sync or async), when
    spans are recorded: a statement's span is never a parent, so without an
    exporter it would cost its hooks on every statement and carry nothing."""
    if not recording():
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    sync_engine = getattr(engine, "sync_engine", engine)
    meter = metrics.get_meter("hospeda.runtime.db")
    usage = meter.create_up_down_counter("db.client.connections.usage", unit="connections")
    tracer = trace.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    EngineTracer(tracer, sync_engine, usage)  # type: ignore[no-untyped-call]


class _TraceContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            record.trace_id = format(span_context.trace_id, "032x")
            record.span_id = format(span_context.span_id, "016x")
        else:
            record.trace_id = record.span_id = None
        if not hasattr(record, "correlation_id"):
            record.correlation_id = correlation_id.get()
        # no secret in a message, whoever wrote it (a library's URL with a token…)
        record.msg, record.args = redact_text(record.getMessage()), None
        return True


class _RedactingJsonFormatter(JsonFormatter):
    """JSON lines whose exception text passes through the redactor."""

    def formatException(self, ei: Any) -> str:
        return redact_text(str(super().formatException(ei)))


class _RedactingFormatter(logging.Formatter):
    def formatException(self, ei: Any) -> str:
        return redact_text(super().formatException(ei))


def setup_logging(service: str, *, level: str = "INFO", json_lines: bool = True) -> None:
    """Structured logs on stderr: JSON lines in production, text for people.
    Every line carries the trace id, span id and correlation id."""
    if service in _configured:
        return
    _configured.add(service)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_TraceContextFilter(service))
    formatter: logging.Formatter
    if json_lines:
        formatter = _RedactingJsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(trace_id)s "
            "%(span_id)s %(correlation_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        )
    else:
        formatter = _RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    handler.setFormatter(formatter)
    logging.captureWarnings(True)  # a library's warning is a log line too, not raw stderr
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "sqlalchemy.engine", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def attributes(**values: Any) -> dict[str, Any]:
    """Span attributes without the ``None`` values OpenTelemetry refuses."""
    return {k: v for k, v in values.items() if v is not None}
