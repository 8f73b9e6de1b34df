"""Sending e-mail over SMTP."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Protocol
from uuid import UUID

import aiosmtplib

from hospeda.contracts import utcnow
from hospeda.notify.config import NotifySettings
from hospeda.runtime.errors import PermanentError


class Mailer(Protocol):
    """Hands one message to a mail server."""

    async def send(
        self, *, notification_id: UUID, to: str, name: str | None, subject: str, body: str
    ) -> None: ...


class SmtpMailer:
    """An SMTP client (aiosmtplib) configured by the service's settings."""

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    async def send(
        self, *, notification_id: UUID, to: str, name: str | None, subject: str, body: str
    ) -> None:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = formataddr((name or "", to))
        message["Subject"] = subject
        message["Date"] = format_datetime(utcnow())
        # Stable per notification and address: a retried send is recognisable as the same message.
        digest = hashlib.sha256(to.lower().encode()).hexdigest()[:12]
        message["Message-ID"] = f"<{notification_id}.{digest}@hospeda>"
        message["X-Hospeda-Notification"] = str(notification_id)
        message.set_content(body)
        password = (
            self.settings.smtp_password.get_secret_value() if self.settings.smtp_password else None
        )
        try:
            await aiosmtplib.send(
                message,
                hostname=self.settings.smtp_host,
                port=self.settings.smtp_port,
                username=self.settings.smtp_username,
                password=password,
                start_tls=self.settings.smtp_starttls,
                use_tls=self.settings.smtp_tls,
                timeout=self.settings.smtp_timeout_s,
            )
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:  # the server will never take it: do not retry
                raise PermanentError(
                    f"o servidor de e-mail recusou / the mail server refused ({exc.code}): {exc.message}"
                ) from None
            raise
