"""Notifications: the inbox, notification settings, web push devices and the
one-click unsubscribe (notify owns the data; the gateway asks and commands)."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hospeda.contracts.notify import Category, Channel
from hospeda.gateway.schemas.common import Page, Text

HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
ALWAYS_ON = (Category.SECURITY, Category.LEGAL)


class InboxPage(Page[Any]):
    unread: int = Field(default=0, description="Unread items not archived, in total.")


class MarkItem(BaseModel):
    """What to change on an item; a field left out stays as it is."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"read": True}]}, extra="forbid")

    read: bool | None = None
    archived: bool | None = None


class PreferenceIn(BaseModel):
    category: Category
    channel: Channel = Field(description="`email` or `push` (the inbox keeps everything).")
    enabled: bool

    @model_validator(mode="after")
    def _switchable(self) -> PreferenceIn:
        if self.channel is Channel.IN_APP:
            raise ValueError("the inbox keeps every notice / a caixa de entrada guarda tudo")
        if self.category in ALWAYS_ON and not self.enabled:
            raise ValueError(
                "security and legal notices cannot be turned off / "
                "avisos de segurança e legais não podem ser desligados"
            )
        return self


class SettingsIn(BaseModel):
    """What to change; fields left out stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "preferences": [
                        {"category": "marketing", "channel": "email", "enabled": False}
                    ],
                    "time_zone": "America/Sao_Paulo",
                    "quiet_hours": {"start": "22:00", "end": "07:00"},
                }
            ]
        },
    )

    preferences: list[PreferenceIn] = Field(default_factory=list, max_length=50)
    time_zone: Text | None = Field(default=None, max_length=64)
    quiet_hours: dict[str, Annotated[str, Field(pattern=HHMM)]] | None = Field(
        default=None, description="`{start, end}` in your time zone; `{}` turns them off."
    )
    on_duty: bool | None = Field(default=None, description="Staff: operator alerts reach you.")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                raise ValueError("unknown time zone, e.g. America/Sao_Paulo") from None
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _both_ends(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value and set(value) != {"start", "end"}:
            raise ValueError("quiet_hours needs start and end (HH:MM), or {} to turn them off")
        return value


class PushKeys(BaseModel):
    p256dh: str = Field(min_length=80, max_length=100, pattern=r"^[A-Za-z0-9_-]+=*$")
    auth: str = Field(min_length=16, max_length=50, pattern=r"^[A-Za-z0-9_-]+=*$")


class PushSubscriptionIn(BaseModel):
    """The browser's ``PushSubscription.toJSON()``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "endpoint": "https://updates.push.services.mozilla.com/wpush/v2/gAAAA…",
                    "keys": {
                        "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA…",
                        "auth": "tBHItJI5svbpez7KI4CCXg",
                    },
                    "expirationTime": None,
                }
            ]
        }
    )

    endpoint: str = Field(min_length=10, max_length=2000, pattern=r"^https?://")
    keys: PushKeys
    expirationTime: int | None = Field(default=None, ge=0, le=4_102_444_800_000)  # ms, < 2100


class Unsubscribed(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "unsubscribed", "category": "marketing"}]}
    )

    status: str = "unsubscribed"
    category: str


# --- answers of notify's queries ----------------------------------------------------------
# Passed on as notify gives them; typed by the runtime's query layer (issue 10).
NotificationSettings = dict[str, Any]  # notification_settings.get
PushConfig = dict[str, Any]  # push.config
Devices = Page[Any]  # push_subscriptions.list
Templates = Page[Any]  # templates.list
TemplatePreview = dict[str, Any]  # templates.preview
