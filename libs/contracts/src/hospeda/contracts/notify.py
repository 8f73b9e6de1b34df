"""Notifications: e-mail, web push and in-app messages."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from hospeda.contracts.envelope import Contract, Payload


class Channel(StrEnum):
    """How a notification reaches a person."""

    EMAIL = "email"
    PUSH = "push"
    IN_APP = "in_app"


class Recipient(Contract):
    """Who receives a notification: a known user, an e-mail address, or the
    members of the message's company who hold one of ``company_roles``
    (notify knows the members; senders need not)."""

    user_id: UUID | None = None
    email: str | None = Field(default=None, max_length=254)
    name: str | None = Field(default=None, max_length=200)
    company_roles: tuple[str, ...] = Field(
        default=(), description="e.g. `owner`, `billing`: every member with one of these roles."
    )


class SendNotification(Payload):
    """Send a templated notification. Key: notification id.

    ``data`` fills the template; it must never hold passwords or card data
    (single-use links and codes are fine: they expire).
    """

    TYPE: ClassVar[str] = "notify.send"
    notification_id: UUID
    channel: Channel
    template: str = Field(min_length=1, max_length=100, description="e.g. `invoice-issued`.")
    locale: str = Field(default="pt-BR", max_length=10)
    recipient: Recipient
    data: dict[str, str | int | bool | None] = Field(default_factory=dict)


class NotificationSent(Payload):
    """A notification was handed to its channel. Key: notification id."""

    TYPE: ClassVar[str] = "notify.notification.sent"
    notification_id: UUID
    channel: Channel
    template: str


class NotificationFailed(Payload):
    """A notification could not be delivered after its retries. Key: notification id."""

    TYPE: ClassVar[str] = "notify.notification.failed"
    notification_id: UUID
    channel: Channel
    template: str
    reason: str
