"""One trace from the gateway to SMTP, and every service's /metrics.

The services export their spans over OTLP/HTTP to a receiver this test runs
(a real HTTP server), as they would to the production collector. A customer
pays an invoice at the gateway; the trace of that request must run

    gateway → Kafka → billing → (Stripe) → provisioning → WHM call
            → dns → Cloudflare call → notify → SMTP

with every span's parent present in the trace. The same run scrapes each
service's /metrics: the families are there, and they moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from hospeda.devstack.servers import free_port
from hospeda.devstack.stack import SERVICES, Stack
from hospeda.gateway.demo import DEMO_EMAIL, DEMO_PASSWORD

pytestmark = pytest.mark.e2e


class Spans:
    """What the OTLP receiver got: span id → span (as a small dict)."""

    def __init__(self) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def add(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        with self.lock:
            for resource in request.resource_spans:
                service = next(
                    a.value.string_value
                    for a in resource.resource.attributes
                    if a.key == "service.name"
                )
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        attributes = {
                            a.key: a.value.string_value or a.value.int_value
                            for a in span.attributes
                        }
                        self.by_id[span.span_id.hex()] = {
                            "name": span.name,
                            "service": service.removeprefix("hospeda-"),
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_id": span.parent_span_id.hex() or None,
                            "kind": span.kind,
                            "attributes": attributes,
                        }

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.by_id.values() if s["trace_id"] == trace_id]


@pytest.fixture
def collector() -> Iterator[tuple[str, Spans]]:
    spans = Spans()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            assert self.path == "/v1/traces", self.path
            spans.add(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", spans
    finally:
        server.shutdown()


@pytest.fixture
def platform_env(collector: tuple[str, Spans]) -> dict[str, str]:
    return {
        "HOSPEDA_DEMO": "1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector[0],
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # export every 0.2 s, not every 5 s
        "HOSPEDA_METRICS_INTERVAL_S": "1",
        "GATEWAY_COOKIE_SECURE": "false",  # plain HTTP to 127.0.0.1 in this test
        "HOSPEDA_LOG_JSON": "true",  # as in production: the log test reads these lines
    }


async def until(check: Any, what: str, *, timeout: float = 90) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


def ancestry(
    span: dict[str, Any], spans: dict[str, dict[str, Any]], *, strict: bool = True
) -> list[dict[str, Any]]:
    """``span`` and its ancestors, root last; a missing parent fails (or, not
    ``strict``, ends the chain: a parent ends, and is exported, after its child)."""
    chain = [span]
    while chain[-1]["parent_id"] is not None:
        parent = spans.get(chain[-1]["parent_id"])
        if parent is None and not strict:
            break
        assert parent is not None, f"the parent of {chain[-1]['name']} is not in the trace"
        chain.append(parent)
    return chain


def services_along(chain: list[dict[str, Any]]) -> list[str]:
    """The services a chain crosses, from the root, each once."""
    order: list[str] = []
    for span in reversed(chain):
        if not order or order[-1] != span["service"]:
            order.append(span["service"])
    return order


async def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        samples.setdefault(family.name, [])
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def total(samples: dict, name: str, **labels: str) -> float:
    return sum(
        v for got, v in samples.get(name, []) if all(got.get(k) == x for k, x in labels.items())
    )


async def test_one_trace_runs_from_the_gateway_to_smtp_and_every_service_has_metrics(
    platform: Stack, gateway: httpx.AsyncClient, collector: tuple[str, Spans]
) -> None:
    # An earlier test in this process may have instrumented httpx: then this test's
    # requests would carry a traceparent (unsampled), and the gateway's span would be
    # neither the root nor recorded. A browser sends none; neither do we.
    with suppress_http_instrumentation():
        await _pay_and_follow_the_trace(platform, gateway, collector)


async def _pay_and_follow_the_trace(
    platform: Stack, gateway: httpx.AsyncClient, collector: tuple[str, Spans]
) -> None:
    _, spans = collector
    login = await gateway.post(
        "/api/v1/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    assert login.status_code == 200, login.text
    headers = {"X-CSRF-Token": login.json()["csrf_token"]}

    async def catalog() -> Any:
        answer = await gateway.get("/api/v1/catalog")
        return answer.status_code == 200 and answer.json()["items"]

    await until(catalog, "the demo catalog")
    ordered = await gateway.post(
        "/api/v1/orders",
        json={"plan_code": "basico", "domain": "rastreio-ponta.com.br", "cycle": "monthly"},
        headers=headers,
    )
    assert ordered.status_code == 202, ordered.text

    async def open_invoice() -> Any:
        answer = await gateway.get("/api/v1/invoices")
        items = answer.json().get("items", []) if answer.status_code == 200 else []
        return next((i for i in items if i["status"] == "open"), None)

    invoice = await until(open_invoice, "the order's invoice")
    paid = await gateway.post(
        f"/api/v1/invoices/{invoice['id']}/pay",
        json={"method": "card", "payment_method_ref": "pm_card_visa"},
        headers=headers,
    )
    assert paid.status_code == 202, paid.text

    # the root: the gateway's span for this very request
    async def pay_request() -> Any:
        return next(
            (
                s
                for s in list(spans.by_id.values())
                if s["service"] == "gateway"
                and s["parent_id"] is None
                and s["name"].startswith("POST /api/v1/invoices/")
            ),
            None,
        )

    root = await until(pay_request, "the gateway's span of the payment")

    async def smtp_span() -> Any:
        trace = {s["span_id"]: s for s in spans.trace(root["trace_id"])}
        for span in trace.values():
            if span["name"] == "smtp send":
                chain = ancestry(span, trace, strict=False)
                if chain[-1] is not root:  # an ancestor is still in flight
                    continue
                if "dns" in services_along(chain):
                    return span
        return None

    smtp = await until(smtp_span, "an e-mail sent on the payment's trace", timeout=120)

    async def complete() -> bool:  # parents end (and are exported) after their children
        trace = {s["span_id"]: s for s in spans.trace(root["trace_id"])}
        return all(s["parent_id"] is None or s["parent_id"] in trace for s in trace.values())

    with contextlib.suppress(AssertionError):
        await until(complete, "every parent span", timeout=20)
    trace = {s["span_id"]: s for s in spans.trace(root["trace_id"])}

    # every span of the trace has its parent in the trace, up to the one root
    roots = [s for s in trace.values() if s["parent_id"] is None]
    assert roots == [root], [r["name"] for r in roots]
    for span in trace.values():
        assert ancestry(span, trace)[-1] is root

    def client_span(service: str, provider_host: str | None = None) -> dict[str, Any]:
        found = [
            s
            for s in trace.values()
            if s["service"] == service
            and s["kind"] == 3  # SPAN_KIND_CLIENT
            and s["name"].split()[0] in ("GET", "POST", "PUT", "PATCH", "DELETE")
        ]
        assert found, f"no outside HTTP call from {service} on the trace"
        return found[0]

    whm = client_span("provisioning")
    cloudflare = client_span("dns")
    assert services_along(ancestry(whm, trace)) == ["gateway", "billing", "provisioning"]
    assert services_along(ancestry(cloudflare, trace)) == [
        "gateway",
        "billing",
        "provisioning",
        "dns",
    ]
    assert services_along(ancestry(smtp, trace)) == [
        "gateway",
        "billing",
        "provisioning",
        "dns",
        "notify",
    ]
    # each Kafka hop is a consumer span whose parent is on the sending side
    hops = [s for s in ancestry(smtp, trace) if s["kind"] == 5]  # SPAN_KIND_CONSUMER
    assert {s["service"] for s in hops} >= {"billing", "provisioning", "dns", "notify"}
    assert any(s["name"].startswith("job ") for s in hops)  # through the job engine

    # /metrics on every process, moved by this flow
    for name, port in platform.metrics_ports.items():
        samples = await scrape(port)
        assert "hospeda_messages_handled" in samples, name
        assert "hospeda_external_request_duration_seconds" in samples, name
    provisioning = await scrape(platform.metrics_ports["provisioning"])
    assert (
        total(provisioning, "hospeda_external_request_duration_seconds_count", provider="whm") > 0
    )
    dns = await scrape(platform.metrics_ports["dns"])
    assert total(dns, "hospeda_external_request_duration_seconds_count", provider="cloudflare") > 0
    billing = await scrape(platform.metrics_ports["billing"])
    assert total(billing, "hospeda_messages_handled_total", topic="billing.commands.v1") >= 2
    assert total(billing, "hospeda_messages_published_total", type="billing.invoice.paid") == 1
    assert total(billing, "hospeda_external_request_duration_seconds_count", provider="stripe") > 0
    gateway_metrics = await scrape(platform.metrics_ports["gateway"])
    assert (
        total(
            gateway_metrics,
            "hospeda_http_requests_total",
            route="/api/v1/invoices/{invoice_id}/pay",
            method="POST",
            status="202",
        )
        == 1
    ), gateway_metrics.get("hospeda_http_requests_total")

    async def jobs_sampled() -> bool:
        now = await scrape(platform.metrics_ports["provisioning"])
        return total(now, "hospeda_jobs", state="succeeded") > 0

    await until(jobs_sampled, "provisioning's jobs by state", timeout=30)

    # every line every service wrote is JSON with the trace, span and correlation
    # ids, and none of them holds the password, the session or the CSRF token
    secrets = [DEMO_PASSWORD, login.json()["csrf_token"], login.cookies.get("hospeda_session")]
    assert all(secrets)
    on_the_trace: set[str] = set()
    for name in (*SERVICES, "gateway"):
        lines = [line for line in platform.output[name] if line.strip()]
        assert lines, name
        for line in lines:
            assert not any(secret in line for secret in secrets), line
            try:
                entry = json.loads(line)
            except ValueError:
                raise AssertionError(f"not a JSON line from {name}: {line!r}") from None
            assert {"time", "level", "message", "service", "trace_id", "span_id"} <= set(entry)
            assert "correlation_id" in entry, line
            if entry["trace_id"] == root["trace_id"]:
                assert entry["span_id"] and entry["correlation_id"], line
                on_the_trace.add(name)
    # each job attempt logs a line on its trace (logs and traces join up)
    assert {"billing", "provisioning", "dns", "notify"} <= on_the_trace, on_the_trace
