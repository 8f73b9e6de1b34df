"""The local mail server: SMTP on one port, a reader on another.

- SMTP (aiosmtpd) accepts every message and stores it in a Maildir, as a
  real mail server would deliver it.
- HTTP: ``GET /messages`` lists what arrived (JSON, newest first);
  ``GET /`` shows it to a person; ``POST /control`` with
  ``{"fail_next": N, "code": 451}`` makes the next N deliveries fail (451 is
  temporary, 550 permanent) so retries are tested for real; ``DELETE
  /messages`` empties the box.
"""

from __future__ import annotations

import asyncio
import html
import mailbox
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route


class MailStore:
    """The Maildir and the fault switch shared by the SMTP and HTTP sides."""

    def __init__(self, maildir: Path) -> None:
        maildir.parent.mkdir(parents=True, exist_ok=True)
        self.box = mailbox.Maildir(maildir, create=True)
        self.fail_next = 0
        self.fail_code = 451

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            if self.fail_code >= 500:
                return f"{self.fail_code} 5.7.1 Rejected by the simulator"
            return f"{self.fail_code} 4.3.0 Try again later (simulated)"
        raw = envelope.original_content or b""
        message = mailbox.MaildirMessage(raw)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.box.add(message)
        return "250 2.0.0 Message accepted"

    def messages(self) -> list[dict[str, Any]]:
        items = []
        for key in list(self.box.iterkeys()):
            parsed = message_from_bytes(self.box.get_bytes(key), policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            body = parsed.get_body(preferencelist=("plain",))
            html = parsed.get_body(preferencelist=("html",))
            items.append(
                {
                    "id": key,
                    "from": parsed["From"],
                    "list_unsubscribe": parsed["List-Unsubscribe"],
                    "list_unsubscribe_post": parsed["List-Unsubscribe-Post"],
                    "headers": sorted(set(parsed.keys())),
                    "html": html.get_content() if html is not None else None,
                    "to": parsed["To"],
                    "envelope_to": parsed["X-Envelope-To"],
                    "subject": parsed["Subject"],
                    "date": parsed["Date"],
                    "message_id": parsed["Message-ID"],
                    "notification_id": parsed["X-Hospeda-Notification"],
                    "body": body.get_content() if body is not None else "",
                    "received": self.box.get_message(key).get_date(),
                }
            )
        return sorted(items, key=lambda m: m["received"], reverse=True)


def web_app(store: MailStore) -> Starlette:
    async def list_messages(request: Request) -> JSONResponse:
        return JSONResponse(store.messages())

    async def clear(request: Request) -> JSONResponse:
        store.box.clear()
        return JSONResponse({"cleared": True})

    async def control(request: Request) -> JSONResponse:
        body = await request.json()
        store.fail_next = int(body.get("fail_next", 0))
        store.fail_code = int(body.get("code", 451))
        return JSONResponse({"fail_next": store.fail_next, "code": store.fail_code})

    async def page(request: Request) -> HTMLResponse:
        rows = "".join(
            f"<article><h2>{html.escape(str(m['subject']))}</h2><p><b>Para / To:</b> {html.escape(str(m['to']))}"
            f" · {html.escape(str(m['date']))}</p><pre>{html.escape(str(m['body']))}</pre></article>"
            for m in store.messages()
        )
        return HTMLResponse(
            "<!doctype html><html lang='pt-BR'><meta charset='utf-8'><title>Caixa de saída / Outbox</title>"
            "<style>body{font-family:system-ui;max-width:48rem;margin:2rem auto}pre{white-space:pre-wrap;"
            "background:#f3f4f6;padding:1rem}</style><h1>E-mails enviados pela Hospeda / Sent by Hospeda</h1>"
            + (rows or "<p>Nenhum e-mail ainda. / No e-mail yet.</p>")
        )

    return Starlette(
        routes=[
            Route("/", page),
            Route("/messages", list_messages, methods=["GET"]),
            Route("/messages", clear, methods=["DELETE"]),
            Route("/control", control, methods=["POST"]),
        ]
    )


async def serve(*, smtp_port: int, http_port: int, maildir: Path) -> None:
    store = MailStore(maildir)
    controller = Controller(store, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        config = uvicorn.Config(
            web_app(store), host="127.0.0.1", port=http_port, log_level="warning"
        )
        await uvicorn.Server(config).serve()
    finally:
        controller.stop()
        await asyncio.sleep(0)
