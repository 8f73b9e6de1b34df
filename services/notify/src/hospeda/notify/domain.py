"""Notify's rules, without I/O: what each notice is, who may be told what on
which channel, quiet hours, how operator alerts are paced, and what text is
safe to put in a header.

Readable as the policy it is:

- every notice has a category; security and legal notices cannot be turned
  off, and neither can the e-mail of an *essential* billing notice (an invoice,
  a failed payment, a suspension);
- the in-app inbox keeps every notice a person gets; preferences decide e-mail
  and push;
- quiet hours hold a push (never an urgent one) until they end, in the
  person's time zone;
- an operator alert is sent once per key per window; what else arrives in the
  window goes out as one digest when it closes.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hospeda.contracts.notify import Category, Channel, Urgency
from hospeda.runtime.errors import PermanentError

EMAIL, PUSH, IN_APP = Channel.EMAIL, Channel.PUSH, Channel.IN_APP
BILLING, SERVICE, SECURITY, LEGAL, MARKETING, OPERATIONS = (
    Category.BILLING,
    Category.SERVICE,
    Category.SECURITY,
    Category.LEGAL,
    Category.MARKETING,
    Category.OPERATIONS,
)

ALWAYS_ON = frozenset({SECURITY, LEGAL})
"""Categories nobody can turn off, on any channel."""

PREFERENCE_CHANNELS = (EMAIL, PUSH)
"""Channels a person chooses per category (the inbox keeps everything)."""

DEFAULT_TIME_ZONE = "America/Sao_Paulo"


# --- what each notice is ---------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """One kind of notification (a template): its category, whether its e-mail
    is essential, where it can go, how urgent a push is, and which data value
    names the thing repeated notices are about (they collapse on devices)."""

    template: str
    category: Category
    essential: bool = False
    channels: frozenset[Channel] = frozenset({EMAIL, PUSH, IN_APP})
    urgency: Urgency = Urgency.NORMAL
    tag_key: str | None = None


_ACCOUNT = frozenset({EMAIL})  # sent to an address, before or beside an account

NOTICES: dict[str, Notice] = {
    n.template: n
    for n in (
        Notice("verify-email", SECURITY, channels=_ACCOUNT),
        Notice("password-reset", SECURITY, channels=_ACCOUNT),
        Notice("password-changed", SECURITY, channels=_ACCOUNT),
        Notice("signup-existing-account", SECURITY, channels=_ACCOUNT),
        Notice("invitation", SECURITY, channels=_ACCOUNT),
        Notice("invoice-issued", BILLING, essential=True, tag_key="number"),
        Notice("invoice-paid", BILLING, tag_key="number", urgency=Urgency.LOW),
        Notice("invoice-overdue", BILLING, essential=True, tag_key="number", urgency=Urgency.HIGH),
        Notice("payment-failed", BILLING, essential=True, tag_key="number", urgency=Urgency.HIGH),
        Notice(
            "service-suspended", BILLING, essential=True, tag_key="domain", urgency=Urgency.HIGH
        ),
        Notice("service-active", SERVICE, tag_key="domain"),
        Notice("provisioning-failed", SERVICE, tag_key="domain", urgency=Urgency.HIGH),
        Notice("addon-failed", SERVICE, tag_key="domain", urgency=Urgency.HIGH),
        Notice("pix-returned", BILLING, essential=True, tag_key="number"),
        Notice("pix-credited", BILLING, essential=True, tag_key="number"),
        Notice("undelivered-refunded", BILLING, essential=True, tag_key="domain"),
        Notice("undelivered-credited", BILLING, essential=True, tag_key="domain"),
        Notice("delegation-instructions", SERVICE, tag_key="domain"),
        Notice("delegation-verified", SERVICE, tag_key="domain"),
        Notice("delegation-failed", SERVICE, tag_key="domain"),
        Notice("delegation-lost", SERVICE, tag_key="domain", urgency=Urgency.HIGH),
        Notice("ops-alert", OPERATIONS, tag_key="alert_key", urgency=Urgency.HIGH),
        Notice("ops-alert-digest", OPERATIONS, tag_key="alert_key"),
    )
}


def notice(template: str) -> Notice:
    """The notice a template is (``PermanentError`` for an unknown one)."""
    found = NOTICES.get(template)
    if found is None:
        raise PermanentError(
            f"modelo de notificação desconhecido / unknown notification template {template!r}"
        )
    return found


def unsubscribable(kind: Notice) -> bool:
    """Whether its e-mail carries ``List-Unsubscribe`` (RFC 8058 one-click)."""
    return not (kind.category in ALWAYS_ON or kind.essential)


def tag(kind: Notice, data: Mapping[str, Any], notification_id: UUID) -> str:
    """Repeated notices about one thing share a tag (the device shows the last)."""
    value = data.get(kind.tag_key) if kind.tag_key else None
    return f"{kind.template}:{value}" if value else f"{kind.template}:{notification_id}"


def push_topic(tag_text: str) -> str:
    """The Web Push ``Topic`` header for a tag: at most 32 URL-safe base64
    characters (RFC 8030 §5.4), so a digest of it."""
    digest = hashlib.sha256(tag_text.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


# --- who hears about it --------------------------------------------------------------------------

AUDIENCE: dict[Category, tuple[str, ...]] = {
    BILLING: ("owner", "billing"),
    SERVICE: ("owner", "technical"),
    SECURITY: ("owner", "admin"),
    LEGAL: ("owner",),
    MARKETING: ("owner",),
    OPERATIONS: ("owner", "technical"),
}
"""A company's members who get a notice addressed to the company as a whole."""

ALERT_STAFF_ROLES = ("operator", "superadmin")
"""Staff who get operator alerts (those on duty; everyone of them when nobody is)."""


@dataclass(frozen=True)
class Preferences:
    """A person's choices: (category, channel) → on/off; missing means the default."""

    choices: Mapping[tuple[Category, Channel], bool] = field(default_factory=dict)

    def enabled(self, category: Category, channel: Channel) -> bool:
        if category in ALWAYS_ON or channel is IN_APP:
            return True
        return self.choices.get((category, channel), category is not MARKETING)

    def table(self) -> list[tuple[Category, Channel, bool]]:
        """Every category × channel a person sees, with its current value."""
        return [
            (category, channel, self.enabled(category, channel))
            for category in Category
            for channel in PREFERENCE_CHANNELS
        ]


def wants(kind: Notice, channel: Channel, preferences: Preferences) -> bool:
    """Whether a notice goes to a person on ``channel``."""
    if channel not in kind.channels:
        return False
    if channel is EMAIL and kind.essential:
        return True
    return preferences.enabled(kind.category, channel)


class SettingRefused(PermanentError):
    """A notification setting that cannot be (security and legal notices stay on)."""


def check_preference(category: Category, channel: Channel, enabled: bool) -> None:
    if channel not in PREFERENCE_CHANNELS:
        raise SettingRefused(
            "a caixa de entrada guarda todos os avisos / the inbox keeps every notice"
        )
    if category in ALWAYS_ON and not enabled:
        raise SettingRefused(
            "avisos de segurança e legais não podem ser desligados / "
            "security and legal notices cannot be turned off"
        )


def time_zone(name: str) -> ZoneInfo:
    """An IANA time zone (``SettingRefused`` for one that does not exist)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise SettingRefused(
            f"fuso horário desconhecido / unknown time zone {name!r} (e.g. America/Sao_Paulo)"
        ) from None


# --- quiet hours -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuietHours:
    """A daily stretch of local time without pushes; it may cross midnight."""

    start: time
    end: time

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> QuietHours | None:
        if not start or not end or start == end:
            return None
        return cls(time.fromisoformat(start), time.fromisoformat(end))

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def push_held_until(
    now: datetime, zone: str, quiet: QuietHours | None, urgency: Urgency
) -> datetime | None:
    """When a push due ``now`` may go: ``None`` for at once, else the end of
    the person's quiet hours (urgent pushes are never held)."""
    if quiet is None or urgency is Urgency.HIGH:
        return None
    local = now.astimezone(time_zone(zone))
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return None
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)  # zoneinfo: wall-clock arithmetic, right across DST changes
    return end.astimezone(now.tzinfo)


# --- operator alerts --------------------------------------------------------------------------


def alert_key(source: str, details: Mapping[str, Any]) -> str:
    """What makes two alerts the same problem: an explicit ``alert_key``, else
    the source and what failed (a job kind, an add-on, a topic)."""
    explicit = details.get("alert_key")
    if explicit:
        return str(explicit)[:200]
    what = details.get("kind") or details.get("addon") or details.get("topic") or "alert"
    return f"{source}:{what}"[:200]


@dataclass(frozen=True)
class AlertPace:
    """What to do with one alert: tell staff now, or count it for the digest
    due when the window closes."""

    notify_now: bool
    window_started_at: datetime
    digest_at: datetime


def pace_alert(now: datetime, window_started_at: datetime | None, window: timedelta) -> AlertPace:
    """One notice per key per window; later alerts of the window wait for its digest."""
    if window_started_at is None or now >= window_started_at + window:
        return AlertPace(True, now, now + window)
    return AlertPace(False, window_started_at, window_started_at + window)


# --- text that is safe anywhere ----------------------------------------------------------------

_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x85]")
_UNSAFE = ("Cc", "Cf", "Zl", "Zp")  # controls, format (bidi overrides), line separators
_JOINERS = "\u200c\u200d"  # format characters emoji and some scripts need


def escape_controls(text: str, *, multiline: bool = False) -> str:
    """Control characters made visible (``\\x1b`` → ``\\u001b``) so a name or
    subject can never end a header, forge a line or steer a terminal; with
    ``multiline``, line breaks stay (normalised to ``\\n``) and tabs too."""
    if multiline:
        text = _NEWLINES.sub("\n", text)
    plain = text.replace("\n", "").replace("\t", "") if multiline else text
    if plain.isprintable():  # the usual case, checked in C: nothing to escape
        return text
    kept = _JOINERS + ("\n\t" if multiline else "")
    return "".join(
        ch if ch in kept or unicodedata.category(ch) not in _UNSAFE else f"\\u{ord(ch):04x}"
        for ch in text
    )


def clean_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """Template data with control characters escaped (values may hold line breaks)."""
    return {
        key: escape_controls(value, multiline=True) if isinstance(value, str) else value
        for key, value in data.items()
    }
