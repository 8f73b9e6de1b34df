"""Links notify puts in what it sends, and the signed one-click unsubscribe token.

The token names a person and a category and is signed with
``NOTIFY_UNSUBSCRIBE_SECRET`` (HMAC-SHA256): whoever holds the e-mail may
turn that category's e-mails off, and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote
from uuid import UUID

from pydantic import SecretStr

from hospeda.contracts.notify import Category

_CODES = {category: index for index, category in enumerate(Category)}
_MAC_BYTES = 16


class Links:
    """URLs into the web app (``NOTIFY_APP_URL``)."""

    def __init__(self, app_url: str, secret: SecretStr) -> None:
        self.base = app_url.rstrip("/")
        self._key = hashlib.sha256(b"unsubscribe:" + secret.get_secret_value().encode()).digest()

    def preferences(self) -> str:
        return f"{self.base}/app/notificacoes/preferencias"

    def inbox(self) -> str:
        return f"{self.base}/app/notificacoes"

    def unsubscribe(self, user_id: UUID, category: Category) -> str:
        """RFC 8058 one-click: mail clients POST ``List-Unsubscribe=One-Click`` here."""
        token = self.unsubscribe_token(user_id, category)
        return f"{self.base}/api/v1/notifications/unsubscribe?token={quote(token)}"

    def unsubscribe_token(self, user_id: UUID, category: Category) -> str:
        body = user_id.bytes + bytes([_CODES[category]])
        return _b64(body) + "." + _b64(self._mac(body))

    def read_unsubscribe_token(self, token: str) -> tuple[UUID, Category] | None:
        """Who and what a token is for, or None for a forged or broken one."""
        try:
            body_text, mac_text = token.split(".", 1)
            body, mac = _unb64(body_text), _unb64(mac_text)
        except ValueError:
            return None
        if len(body) != 17 or not hmac.compare_digest(mac, self._mac(body)):
            return None
        categories = list(Category)
        if body[16] >= len(categories):
            return None
        return UUID(bytes=body[:16]), categories[body[16]]

    def alert(self, source: str, details: Mapping[str, Any]) -> str:
        """The operator page of what an alert is about: the job, the dead letter."""
        if details.get("job_id"):
            return f"{self.base}/app/equipe/tarefas/{quote(source)}/{quote(str(details['job_id']))}"
        if details.get("topic") and details.get("offset") is not None:
            topic, partition = quote(str(details["topic"])), details.get("partition", 0)
            return f"{self.base}/app/equipe/dlq/{topic}/{partition}/{details['offset']}"
        if details.get("service_id"):
            return f"{self.base}/app/equipe/servicos/{quote(str(details['service_id']))}"
        return f"{self.base}/app/equipe/alertas"

    def service(self, service_id: UUID) -> str:
        return f"{self.base}/app/servicos/{service_id}"

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None
