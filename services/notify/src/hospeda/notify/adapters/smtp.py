"""Sending e-mail over SMTP: a text and an HTML part, one-click unsubscribe
(RFC 8058) where the notice allows it, STARTTLS or TLS and authentication as
the settings say."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Protocol
from uuid import UUID

import aiosmtplib
from opentelemetry import trace

from hospeda.contracts import utcnow
from hospeda.notify.config import NotifySettings
from hospeda.notify.domain import escape_controls
from hospeda.runtime import metrics
from hospeda.runtime.errors import PermanentError

tracer = trace.get_tracer("hospeda.notify.smtp")


@dataclass(frozen=True)
class Email:
    """One e-mail to one address."""

    notification_id: UUID
    to: str
    name: str | None
    subject: str
    text: str
    html: str
    sender_name: str | None = None  # e.g. the company the notice is about
    unsubscribe_url: str | None = None


class Mailer(Protocol):
    """Hands one message to a mail server."""

    async def send(self, email: Email) -> None: ...


def build_message(email: Email, mail_from: str) -> EmailMessage:
    """The MIME message: headers safe whatever the names hold."""
    default_name, from_address = parseaddr(mail_from)
    sender = default_name or "Hospeda"
    if email.sender_name:
        sender = f"{email.sender_name} via {sender}"
    message = EmailMessage()
    message["From"] = _address(sender, from_address)
    message["To"] = _address(email.name or "", email.to)
    message["Subject"] = escape_controls(email.subject)
    message["Date"] = format_datetime(utcnow())
    # Stable per notification and address: a retried send is recognisable as the same message.
    digest = hashlib.sha256(email.to.lower().encode()).hexdigest()[:12]
    message["Message-ID"] = f"<{email.notification_id}.{digest}@hospeda>"
    message["X-Hospeda-Notification"] = str(email.notification_id)
    if email.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


def _address(name: str, address: str) -> Address:
    local, _, domain = address.rpartition("@")
    if not local or not domain:
        raise PermanentError(f"endereço de e-mail inválido / invalid e-mail address {address!r}")
    return Address(display_name=escape_controls(name), username=local, domain=domain)


class SmtpMailer:
    """An SMTP client (aiosmtplib) configured by the service's settings."""

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    async def send(self, email: Email) -> None:
        settings = self.settings
        message = build_message(email, settings.mail_from)
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        try:
            with (
                tracer.start_as_current_span(
                    "smtp send",
                    kind=trace.SpanKind.CLIENT,
                    attributes={
                        "server.address": settings.smtp_host,
                        "server.port": settings.smtp_port,
                    },
                ),
                metrics.external_call("smtp", "SEND"),
            ):
                await aiosmtplib.send(
                    message,
                    hostname=settings.smtp_host,
                    port=settings.smtp_port,
                    username=settings.smtp_username,
                    password=password,
                    start_tls=settings.smtp_starttls,
                    use_tls=settings.smtp_tls,
                    timeout=settings.smtp_timeout_s,
                )
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:  # the server will never take it: do not retry
                raise PermanentError(
                    f"o servidor de e-mail recusou / the mail server refused ({exc.code}): {exc.message}"
                ) from None
            raise
