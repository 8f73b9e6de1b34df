"""Notifications: e-mail, web push and in-app messages.

A ``SendNotification`` names a template; notify knows each template's
category (billing, service, security, legal, marketing, operations), finds the
people it is for, keeps it in each person's in-app inbox and delivers it by
e-mail and web push as their preferences allow — once per channel, however
often the command arrives.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from hospeda.contracts.envelope import Contract, Payload, UtcDatetime


class Channel(StrEnum):
    """How a notification reaches a person."""

    EMAIL = "email"
    PUSH = "push"
    IN_APP = "in_app"


class Category(StrEnum):
    """What a notification is about; preferences are set per category.
    Security and legal notices cannot be turned off."""

    BILLING = "billing"
    SERVICE = "service"
    SECURITY = "security"
    LEGAL = "legal"
    MARKETING = "marketing"
    OPERATIONS = "operations"


class Urgency(StrEnum):
    """Web push urgency (RFC 8030 §5.3)."""

    VERY_LOW = "very-low"
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class DeliveryStatus(StrEnum):
    """Where one delivery (one channel, one address or device) stands."""

    SENT = "sent"
    HELD = "held"  # waiting for the end of the person's quiet hours
    SKIPPED = "skipped"  # the person turned this category off for this channel
    FAILED = "failed"


class Recipient(Contract):
    """Who receives a notification: a known user, an e-mail address, the
    members of the message's company who hold one of ``company_roles``
    (notify knows the members; senders need not), or Hospeda staff holding one
    of ``staff_roles``. With none of these, the message's company is addressed
    by the template's category: billing notices reach the billing members and
    the owner, technical notices the technical members and the owner."""

    user_id: UUID | None = None
    email: str | None = Field(default=None, max_length=254)
    name: str | None = Field(default=None, max_length=200)
    company_roles: tuple[str, ...] = Field(
        default=(), description="e.g. `owner`, `billing`: every member with one of these roles."
    )
    staff_roles: tuple[str, ...] = Field(
        default=(), description="e.g. `operator`: staff with one of these roles (on duty first)."
    )


class SendNotification(Payload):
    """Send a templated notification. Key: notification id.

    ``data`` fills the template; it must never hold passwords or card data
    (single-use links and codes are fine: they expire). ``data["link"]`` is
    the page a push or inbox item opens. ``channel`` is what the sender had in
    mind; notify delivers over every channel the template and each person's
    preferences allow (an address without an account gets e-mail only).
    """

    TYPE: ClassVar[str] = "notify.send"
    notification_id: UUID
    channel: Channel
    template: str = Field(min_length=1, max_length=100, description="e.g. `invoice-issued`.")
    locale: str = Field(default="pt-BR", max_length=10)
    recipient: Recipient
    data: dict[str, str | int | bool | None] = Field(default_factory=dict)


class NotificationSent(Payload):
    """A notification was handed to its channel: e-mail once per notification,
    push once per person. Key: notification id."""

    TYPE: ClassVar[str] = "notify.notification.sent"
    notification_id: UUID
    channel: Channel
    template: str
    user_id: UUID | None = Field(default=None, description="Push: whose devices got it.")


class NotificationFailed(Payload):
    """A notification could not be delivered after its retries. Key: notification id."""

    TYPE: ClassVar[str] = "notify.notification.failed"
    notification_id: UUID
    channel: Channel
    template: str
    reason: str
    user_id: UUID | None = Field(default=None, description="Push: whose devices it was for.")


class DeliveryStatusChanged(Payload):
    """One delivery of a notification — one channel to one person (or
    address) — was sent, held for quiet hours, skipped by preference, or
    failed for good (``reason`` says why). Key: notification id."""

    TYPE: ClassVar[str] = "notify.delivery.status_changed"
    notification_id: UUID
    channel: Channel
    template: str
    category: Category
    status: DeliveryStatus
    user_id: UUID | None = Field(default=None, description="Absent for a bare e-mail address.")
    reason: str | None = None
    held_until: UtcDatetime | None = None


# --- the in-app inbox (topic notify.inbox.v1, key: user id) ----------------------------------


class InboxItemCreated(Payload):
    """A notification was kept in a person's inbox (the web app shows it
    live). Key: user id."""

    TYPE: ClassVar[str] = "notify.inbox.item_created"
    item_id: UUID
    user_id: UUID
    notification_id: UUID
    template: str
    category: Category
    title: str
    body: str
    url: str | None = None
    created_at: UtcDatetime


class InboxItemMarked(Payload):
    """A person read, unread, archived or restored an inbox item; this is its
    state now. Key: user id."""

    TYPE: ClassVar[str] = "notify.inbox.item_marked"
    item_id: UUID
    user_id: UUID
    read: bool
    archived: bool


class MarkInboxItems(Payload):
    """Mark the acting person's inbox items (or, with ``all_unread``, every
    unread one) read or unread, archived or not. Another person's items are
    left alone. Key: user id."""

    TYPE: ClassVar[str] = "notify.mark_inbox_items"
    item_ids: tuple[UUID, ...] = Field(default=(), max_length=200)
    all_unread: bool = False
    read: bool | None = None
    archived: bool | None = None


# --- preferences (topic notify.person.v1, key: user id) --------------------------------------


class ChannelPreference(Contract):
    """Whether a person wants one category of notices on one channel."""

    category: Category
    channel: Channel
    enabled: bool


class ChangeNotificationSettings(Payload):
    """The acting person's notification settings. Fields left out stay as they
    are; preferences for security and legal notices are refused. Quiet hours
    (``HH:MM`` in ``time_zone``) hold pushes until they end. ``on_duty``
    (staff) says whether operator alerts should reach them. Key: user id."""

    TYPE: ClassVar[str] = "notify.change_settings"
    preferences: tuple[ChannelPreference, ...] = Field(default=(), max_length=50)
    time_zone: str | None = Field(
        default=None, max_length=64, description="IANA, e.g. `America/Sao_Paulo`."
    )
    quiet_hours_start: str | None = Field(default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    quiet_hours_end: str | None = Field(default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    clear_quiet_hours: bool = False
    on_duty: bool | None = None


class Unsubscribe(Payload):
    """One-click unsubscribe (RFC 8058) from a category's e-mails with the
    signed token of the link in the e-mail. No key (a token is not kept where
    keys are)."""

    TYPE: ClassVar[str] = "notify.unsubscribe"
    token: str = Field(min_length=10, max_length=200)


class NotificationSettingsChanged(Payload):
    """A person's notification settings changed (preferences, time zone,
    quiet hours, duty); this is what they are now. Key: user id."""

    TYPE: ClassVar[str] = "notify.person.settings_changed"
    user_id: UUID
    preferences: tuple[ChannelPreference, ...]
    time_zone: str
    quiet_hours_start: str | None = None
    quiet_hours_end: str | None = None
    on_duty: bool
    via: str = Field(default="settings", description="`settings` or `unsubscribe` (one-click).")


# --- web push subscriptions (topic notify.person.v1, key: user id) ---------------------------


class RegisterPushSubscription(Payload):
    """The acting person's browser subscribed to web push (the browser's
    ``PushSubscription``: endpoint and keys). The same endpoint again refreshes
    it. Key: user id."""

    TYPE: ClassVar[str] = "notify.register_push_subscription"
    endpoint: str = Field(min_length=10, max_length=2000, pattern=r"^https?://")
    p256dh: str = Field(min_length=80, max_length=100, description="Base64url P-256 public key.")
    auth_secret: str = Field(min_length=16, max_length=50, description="Base64url auth secret.")
    user_agent: str | None = Field(default=None, max_length=300)
    expires_at: UtcDatetime | None = None


class RemovePushSubscription(Payload):
    """The acting person's device stops receiving pushes. Key: user id."""

    TYPE: ClassVar[str] = "notify.remove_push_subscription"
    subscription_id: UUID


class PushSubscriptionRegistered(Payload):
    """A device of a person receives pushes now. Key: user id."""

    TYPE: ClassVar[str] = "notify.push.subscription_registered"
    subscription_id: UUID
    user_id: UUID
    user_agent: str | None = None


class PushSubscriptionRemoved(Payload):
    """A device no longer receives pushes: its person removed it, or the push
    service said it is gone (404/410). Key: user id."""

    TYPE: ClassVar[str] = "notify.push.subscription_removed"
    subscription_id: UUID
    user_id: UUID
    reason: str
