"""The local push service over HTTP: ``python -m hospeda.notify.simulator.pushserver --port 8030``

- ``POST /push/{id}``: a Web Push request (RFC 8030): VAPID checked, body
  decrypted; ``201`` with ``Location``, or the status a real service gives
  (400, 401, 403, 404, 410, 413, 415; 429/500 when told to fail).
- ``POST /subscriptions`` with ``{"application_server_key": …}``: subscribe
  like a browser does; answers ``PushSubscription.toJSON()``.
  ``DELETE /subscriptions/{id}``: the browser dropped it (then 410).
- ``GET /messages`` (``?subscription=<id>``): what arrived, decrypted, newest
  first; ``DELETE /messages`` forgets them; ``GET /`` shows them to a person.
- ``POST /control`` with ``{"fail_next": N, "status": 500}``: the next N
  pushes fail with that status.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from hospeda.notify.simulator.pushservice import PushService, Refused

MAX_BODY = 4096  # RFC 8030 §7.2: push services must accept at least this


def web_app(service: PushService) -> Starlette:
    async def push(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            message = service.receive(request.path_params["subscription_id"], headers, body)
        except Refused as refused:
            return JSONResponse({"error": refused.reason}, status_code=refused.status)
        return Response(
            status_code=201, headers={"Location": f"{service.origin}/messages/{message['id']}"}
        )

    async def subscribe(request: Request) -> JSONResponse:
        body = await request.json()
        try:
            subscription = service.subscribe(str(body.get("application_server_key", "")))
        except Refused as refused:
            return JSONResponse({"error": refused.reason}, status_code=refused.status)
        return JSONResponse(subscription.public(service.origin), status_code=201)

    async def unsubscribe(request: Request) -> JSONResponse:
        try:
            service.unsubscribe(request.path_params["subscription_id"])
        except Refused as refused:
            return JSONResponse({"error": refused.reason}, status_code=refused.status)
        return JSONResponse({"gone": True})

    async def messages(request: Request) -> JSONResponse:
        wanted = request.query_params.get("subscription")
        found = [m for m in service.received if wanted in (None, m["subscription_id"])]
        return JSONResponse(list(reversed(found)))

    async def clear(request: Request) -> JSONResponse:
        service.received.clear()
        return JSONResponse({"cleared": True})

    async def control(request: Request) -> JSONResponse:
        body = await request.json()
        service.fail_next = int(body.get("fail_next", 0))
        service.fail_status = int(body.get("status", 500))
        return JSONResponse({"fail_next": service.fail_next, "status": service.fail_status})

    async def page(request: Request) -> HTMLResponse:
        rows = "".join(
            f"<article><h2>{html.escape(str(_field(m, 'title')))}</h2>"
            f"<p>{html.escape(str(_field(m, 'body')))}</p>"
            f"<p><small>{html.escape(m['received_at'])} · urgência / urgency {html.escape(m['urgency'])}"
            f" · {html.escape(str(_field(m, 'url') or ''))}</small></p>"
            f"<pre>{html.escape(json.dumps(m['payload'], ensure_ascii=False, indent=2))}</pre></article>"
            for m in reversed(service.received)
        )
        return HTMLResponse(
            "<!doctype html><html lang='pt-BR'><meta charset='utf-8'><title>Push recebidos / Pushes received</title>"
            "<style>body{font-family:system-ui;max-width:48rem;margin:2rem auto}pre{white-space:pre-wrap;"
            "background:#f3f4f6;padding:1rem}</style><h1>Notificações push recebidas / Web pushes received</h1>"
            f"<p>{len(service.subscriptions)} dispositivo(s) / device(s)</p>"
            + (rows or "<p>Nenhum push ainda. / No push yet.</p>")
        )

    return Starlette(
        routes=[
            Route("/", page),
            Route("/push/{subscription_id}", push, methods=["POST"]),
            Route("/subscriptions", subscribe, methods=["POST"]),
            Route("/subscriptions/{subscription_id}", unsubscribe, methods=["DELETE"]),
            Route("/messages", messages, methods=["GET"]),
            Route("/messages", clear, methods=["DELETE"]),
            Route("/control", control, methods=["POST"]),
        ]
    )


def _field(message: dict[str, object], name: str) -> object:
    payload = message["payload"]
    return payload.get(name, "") if isinstance(payload, dict) else payload


async def serve(*, host: str, port: int) -> None:
    service = PushService(origin=f"http://{host}:{port}")
    config = uvicorn.Config(web_app(service), host=host, port=port, log_level="warning")
    await uvicorn.Server(config).serve()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m hospeda.notify.simulator.pushserver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8030)
    args = parser.parse_args()
    asyncio.run(serve(host=args.host, port=args.port))
