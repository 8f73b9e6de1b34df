"""Billing's own small HTTP ingress: ``POST /webhooks/stripe`` and the Pix
PSP's ``POST /webhooks/pix/pix`` (the API Pix posts to ``<webhookUrl>/pix``).

Served inside the billing process (``BILLING_WEBHOOK_PORT``, 8010 by
default), because checking a webhook's signature needs the raw body and the
signing secret, and only billing holds the secret.

An event is verified, then recorded by id and applied in one transaction:
a redelivery — even a concurrent one — finds the id taken and changes
nothing. Stripe and the PSP retry whatever does not get a 2xx, so a database
hiccup loses nothing (and the Pix reconciliation finds what they gave up on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hospeda.billing.adapters.pix_psp import InvalidPixWebhook
from hospeda.billing.adapters.stripe import InvalidWebhook
from hospeda.billing.service import Billing

log = logging.getLogger(__name__)

MAX_BODY = 512 * 1024


def webhook_app(billing: Billing) -> Starlette:
    """The ASGI app of the ingress."""

    async def stripe_webhook(request: Request) -> JSONResponse:
        if billing.stripe is None:
            return JSONResponse({"error": "stripe is not configured"}, status_code=503)
        body = await _body(request)
        if body is None:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        try:
            event = billing.stripe.verify_webhook(body, request.headers.get("stripe-signature"))
        except InvalidWebhook as exc:
            log.warning("refused a Stripe webhook: %s", exc)
            return JSONResponse({"error": f"invalid signature: {exc}"}, status_code=400)
        async with billing.db.transaction() as session:
            applied = await billing.handle_stripe_event(billing.unit(session), event)
        return JSONResponse({"received": True, "duplicate": not applied})

    async def pix_webhook(request: Request) -> JSONResponse:
        if billing.pix_psp is None:
            return JSONResponse({"error": "the Pix PSP is not configured"}, status_code=503)
        body = await _body(request)
        if body is None:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        try:
            received = billing.pix_psp.verify_webhook(body, request.headers.get("pix-signature"))
        except InvalidPixWebhook as exc:
            log.warning("refused a Pix webhook: %s", exc)
            return JSONResponse({"error": f"invalid webhook: {exc}"}, status_code=400)
        new = 0
        for pix in received:  # one transaction each: one bad Pix does not hold back the rest
            async with billing.db.transaction() as session:
                new += await billing.receive_pix(billing.unit(session), pix)
        return JSONResponse({"received": len(received), "new": new})

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/webhooks/stripe", stripe_webhook, methods=["POST"]),
            Route("/webhooks/pix/pix", pix_webhook, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )


async def _body(request: Request) -> bytes | None:
    """The raw body (signatures are over its bytes), or None when too large."""
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY:
        return None
    body = await request.body()
    return body if len(body) <= MAX_BODY else None


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the service runtime owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve(billing: Billing, *, host: str, port: int) -> uvicorn.Server:
    """A server for the ingress; ``run_ingress(server)`` runs it until cancelled."""
    config = uvicorn.Config(
        webhook_app(billing),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    return _Server(config)


async def run_ingress(server: uvicorn.Server) -> None:
    """Serve until cancelled, then shut down cleanly."""
    task = asyncio.create_task(server.serve())
    try:
        await asyncio.shield(task)
    except SystemExit:  # uvicorn's answer to a port it cannot bind
        raise RuntimeError(
            f"the webhook ingress could not listen on port {server.config.port}"
        ) from None
    except asyncio.CancelledError:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
        raise
    if server.started is False and not server.should_exit:
        raise RuntimeError(f"the webhook ingress could not listen on port {server.config.port}")
