"""Notifications, read from and sent to notify: a person's inbox, their
notification settings, their browsers' web push subscriptions, the one-click
unsubscribe (RFC 8058) of e-mails, and the staff preview of every template.

A person's inbox, settings and devices are their own: notify answers for the
signed-in person (the actor), whatever company is open. New inbox items
arrive live on ``GET /api/v1/events`` (``notify.inbox.item_created``).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hospeda.contracts import Actor
from hospeda.contracts.notify import (
    Category,
    ChangeNotificationSettings,
    Channel,
    ChannelPreference,
    MarkInboxItems,
    RegisterPushSubscription,
    RemovePushSubscription,
    Unsubscribe,
)
from hospeda.contracts.topics import NOTIFY_COMMANDS
from hospeda.gateway import forward
from hospeda.gateway.api import MAX_LIMIT, ApiRoute, Page, RequestContext, allow
from hospeda.gateway.forward import Accepted
from hospeda.gateway.outgoing import audit, send
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import ApiError, documented, not_found
from hospeda.runtime.errors import QueryFailed, QueryTimeout
from hospeda.runtime.settings import Environment

router = APIRouter(tags=["notifications"], route_class=ApiRoute)

Self = Annotated[RequestContext, allow(P.SELF)]
Public = Annotated[RequestContext, allow(P.PUBLIC)]
Staff = Annotated[RequestContext, allow(P.STAFF_TEMPLATES)]
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
ALWAYS_ON = (Category.SECURITY, Category.LEGAL)


async def _mine(ctx: RequestContext, name: str, params: dict[str, Any] | None = None) -> Any:
    """Ask notify about the signed-in person (no company: it is theirs everywhere)."""
    return await forward.ask(ctx, "notify", name, params or {}, platform=True)


async def _command(ctx: RequestContext, payload: Any, *, action: str, entity_id: Any) -> Accepted:
    return await forward.command(
        ctx,
        payload,
        topic=NOTIFY_COMMANDS,
        key=ctx.me.user_id,
        action=action,
        entity="notification_settings" if "settings" in action else "notification",
        entity_id=entity_id,
    )


# --- the inbox ------------------------------------------------------------------------------


class InboxPage(Page):
    unread: int = Field(default=0, description="Unread items not archived, in total.")


@router.get(
    "/notifications",
    responses=documented(401, 403, 422, 503),
    summary="Caixa de entrada / Inbox",
)
async def inbox(
    ctx: Self,
    state: Annotated[str, Query(pattern=r"^(inbox|unread|read|archived)$")] = "inbox",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> InboxPage:
    """Your notifications, newest first: ``inbox`` (not archived), ``unread``,
    ``read`` or ``archived``."""
    answer = await _mine(ctx, "inbox.list", {"state": state, "limit": limit, "cursor": cursor})
    return InboxPage(
        items=answer["items"], next_cursor=answer.get("next_cursor"), unread=answer["unread"]
    )


class MarkItem(BaseModel):
    """What to change on an item; a field left out stays as it is."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"read": True}]}, extra="forbid")

    read: bool | None = None
    archived: bool | None = None


@router.patch(
    "/notifications/{item_id}",
    status_code=status.HTTP_202_ACCEPTED,
    responses=documented(401, 403, 422),
    summary="Marcar uma notificação / Mark a notification",
)
async def mark(item_id: UUID, body: MarkItem, ctx: Self) -> Accepted:
    """Read or unread, archive or restore one of your items (another person's
    id changes nothing)."""
    command = MarkInboxItems(item_ids=(item_id,), read=body.read, archived=body.archived)
    return await _command(ctx, command, action="notification.marked", entity_id=item_id)


@router.post(
    "/notifications/read-all",
    status_code=status.HTTP_202_ACCEPTED,
    responses=documented(401, 403),
    summary="Marcar todas como lidas / Mark all read",
)
async def read_all(ctx: Self) -> Accepted:
    command = MarkInboxItems(all_unread=True, read=True)
    return await _command(ctx, command, action="notification.all_read", entity_id=ctx.me.user_id)


# --- settings ---------------------------------------------------------------------------------


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
    time_zone: str | None = Field(default=None, max_length=64)
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


@router.get(
    "/me/notification-settings",
    responses=documented(401, 403, 503),
    summary="Preferências de notificação / Notification settings",
)
async def get_settings(ctx: Self) -> dict[str, Any]:
    """Every category × channel (security and legal are locked on), time zone,
    quiet hours for pushes, and — for staff — whether you are on duty."""
    answer: dict[str, Any] = await _mine(ctx, "notification_settings.get")
    return answer


@router.put(
    "/me/notification-settings",
    status_code=status.HTTP_202_ACCEPTED,
    responses=documented(401, 403, 422),
    summary="Mudar preferências / Change notification settings",
)
async def change_settings(body: SettingsIn, ctx: Self) -> Accepted:
    quiet = body.quiet_hours
    command = ChangeNotificationSettings(
        preferences=tuple(
            ChannelPreference(category=p.category, channel=p.channel, enabled=p.enabled)
            for p in body.preferences
        ),
        time_zone=body.time_zone,
        quiet_hours_start=quiet["start"] if quiet else None,
        quiet_hours_end=quiet["end"] if quiet else None,
        clear_quiet_hours=quiet == {},
        on_duty=body.on_duty,
    )
    return await _command(
        ctx, command, action="notification_settings.changed", entity_id=ctx.me.user_id
    )


# --- web push devices ----------------------------------------------------------------------


@router.get(
    "/push/config",
    responses=documented(401, 403, 503),
    summary="Chave para assinar push / Key to subscribe to push",
)
async def push_config(ctx: Self) -> dict[str, Any]:
    """``vapid_public_key`` is the ``applicationServerKey`` for ``PushManager.subscribe``."""
    answer: dict[str, Any] = await _mine(ctx, "push.config")
    return answer


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


@router.get(
    "/push/subscriptions",
    responses=documented(401, 403, 503),
    summary="Meus dispositivos / My devices",
)
async def devices(ctx: Self) -> Page:
    return Page(**await _mine(ctx, "push_subscriptions.list"))


@router.post(
    "/push/subscriptions",
    status_code=status.HTTP_202_ACCEPTED,
    responses=documented(401, 403, 422),
    summary="Receber push neste navegador / Get pushes on this browser",
)
async def register_device(body: PushSubscriptionIn, ctx: Self) -> Accepted:
    """Push services are HTTPS; plain HTTP only to this machine, outside production."""
    local = body.endpoint.startswith(("http://127.0.0.1", "http://localhost"))
    production = ctx.gateway.settings.environment is Environment.PRODUCTION
    if not body.endpoint.startswith("https://") and (production or not local):
        raise ApiError(
            "invalid", 422, message="endpoint must be https:// / o endpoint deve ser https://"
        )
    expires = (
        datetime.fromtimestamp(body.expirationTime / 1000, UTC) if body.expirationTime else None
    )
    command = RegisterPushSubscription(
        endpoint=body.endpoint,
        p256dh=body.keys.p256dh,
        auth_secret=body.keys.auth,
        user_agent=(ctx.origin.user_agent or "")[:300] or None,
        expires_at=expires,
    )
    return await _command(
        ctx, command, action="push_subscription.registered", entity_id=ctx.me.user_id
    )


@router.delete(
    "/push/subscriptions/{subscription_id}",
    status_code=status.HTTP_202_ACCEPTED,
    responses=documented(401, 403, 422),
    summary="Parar push em um dispositivo / Stop pushes on a device",
)
async def remove_device(subscription_id: UUID, ctx: Self) -> Accepted:
    command = RemovePushSubscription(subscription_id=subscription_id)
    return await _command(
        ctx, command, action="push_subscription.removed", entity_id=subscription_id
    )


# --- one-click unsubscribe (RFC 8058) -----------------------------------------------------------

Token = Annotated[str, Query(min_length=10, max_length=200)]


async def _category(ctx: RequestContext, token: str) -> str:
    """The category a token turns off (404 for a forged or broken one)."""
    try:
        answer = await ctx.gateway.queries.ask(
            "notify", "unsubscribe.check", {"token": token}, actor=Actor.system("gateway")
        )
    except QueryFailed as exc:
        if exc.code == "not_found":
            raise not_found() from None
        raise ApiError("bad_gateway", 502, service="notify") from None
    except QueryTimeout:
        raise ApiError(
            "service_unavailable", 503, headers={"Retry-After": "5"}, service="notify"
        ) from None
    return str(answer["category"])


@router.get(
    "/notifications/unsubscribe",
    response_class=HTMLResponse,
    responses=documented(404, 422, 503),
    summary="Página de descadastro / Unsubscribe page",
)
async def unsubscribe_page(token: Token, ctx: Public) -> HTMLResponse:
    """What a person who opens the link sees: a button (opening a link never
    unsubscribes — mail scanners open links too)."""
    category = html.escape(await _category(ctx, token))
    action = html.escape(f"/api/v1/notifications/unsubscribe?token={token}", quote=True)
    return HTMLResponse(
        "<!doctype html><html lang='pt-BR'><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width'><title>Descadastrar / Unsubscribe</title>"
        "<body style='font-family:system-ui;max-width:32rem;margin:3rem auto;padding:1rem'>"
        f"<h1>Não receber mais e-mails de “{category}”?</h1><p>Stop e-mails about “{category}”?"
        " Avisos de segurança e cobranças essenciais continuam chegando. / Security notices and"
        " essential billing still arrive.</p>"
        f"<form method='post' action='{action}'><input type='hidden' name='List-Unsubscribe'"
        " value='One-Click'><button type='submit'>Descadastrar / Unsubscribe</button></form>"
    )


@router.post(
    "/notifications/unsubscribe",
    responses=documented(404, 422, 429, 503),
    summary="Descadastro com um clique / One-click unsubscribe",
)
async def unsubscribe(token: Token, ctx: Public) -> dict[str, Any]:
    """RFC 8058: the mail client POSTs ``List-Unsubscribe=One-Click`` to the
    link of the e-mail's ``List-Unsubscribe`` header; that category's e-mails
    stop for the person the link was made for."""
    category = await _category(ctx, token)
    async with ctx.gateway.runtime.db.transaction() as db:  # the body needs no reading
        # no key: a token must not travel where keys are kept (logs, the audit trail)
        send(db, ctx.origin, Unsubscribe(token=token), topic=NOTIFY_COMMANDS, key=None)
        audit(
            db,
            ctx.origin,
            "notification.unsubscribed",
            "notification_settings",
            after={"category": category, "channel": "email"},
        )
    return {"status": "unsubscribed", "category": category}


# --- staff: template preview -----------------------------------------------------------------


@router.get(
    "/staff/notification-templates",
    responses=documented(401, 403, 503),
    summary="Modelos de notificação / Notification templates",
)
async def templates(ctx: Staff) -> Page:
    return Page(**await _mine(ctx, "templates.list"))


@router.get(
    "/staff/notification-templates/{template}",
    responses=documented(401, 403, 404, 503),
    summary="Prévia de um modelo / Preview a template",
)
async def preview(
    template: Annotated[str, Path(max_length=100, pattern=r"^[a-z0-9-]+$")], ctx: Staff
) -> dict[str, Any]:
    """The template with sample data in pt-BR and English: e-mail subject,
    text and HTML, and what a push shows."""
    answer: dict[str, Any] = await forward.ask(
        ctx, "notify", "templates.preview", {"template": template}, platform=True
    )
    return answer
