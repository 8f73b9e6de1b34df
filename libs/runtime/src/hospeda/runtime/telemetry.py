"""Traces and logs.

Traces follow a request from the gateway through every Kafka hop (the trace
context travels in message headers) to the external call. Spans go to an
OTLP collector when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set. Logs are JSON
lines carrying the service, the trace id and the correlation id.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from pythonjsonlogger.json import JsonFormatter

_configured: set[str] = set()


def setup_tracing(service: str, *, instance_id: str, otlp_endpoint: str | None) -> TracerProvider:
    """Install the process-wide tracer provider (once per process)."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    # Without a collector, record nothing but still mint trace and span ids:
    # non-recording spans carry the trace across hops (logs, audit entries and
    # probes show it) at a fraction of the cost of recorded ones.
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": f"hospeda-{service}", "service.instance.id": instance_id}
        ),
        sampler=ParentBased(ALWAYS_ON) if otlp_endpoint else ALWAYS_OFF,
    )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces"))
        )
    trace.set_tracer_provider(provider)
    return provider


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
        return True


def setup_logging(service: str, *, level: str = "INFO", json_lines: bool = True) -> None:
    """Structured logs on stderr: JSON lines in production, text for people."""
    if service in _configured:
        return
    _configured.add(service)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_TraceContextFilter(service))
    formatter: logging.Formatter
    if json_lines:
        formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        )
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "sqlalchemy.engine", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def attributes(**values: Any) -> dict[str, Any]:
    """Span attributes without the ``None`` values OpenTelemetry refuses."""
    return {k: v for k, v in values.items() if v is not None}
