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

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import HTMLResponse

from hospeda.contracts import Actor
from hospeda.contracts.notify import (
    ChangeNotificationSettings,
    ChannelPreference,
    MarkInboxItems,
    RegisterPushSubscription,
    RemovePushSubscription,
    Unsubscribe,
)
from hospeda.contracts.topics import NOTIFY_COMMANDS
from hospeda.gateway.api import MAX_LIMIT, ApiRoute, allow
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import ForwardDep, SettingsDep
from hospeda.gateway.forward import Forwarder
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import ApiError, documented, not_found
from hospeda.gateway.schemas.common import Accepted
from hospeda.gateway.schemas.notifications import (
    Devices,
    InboxPage,
    MarkItem,
    NotificationSettings,
    PushConfig,
    PushSubscriptionIn,
    SettingsIn,
    TemplatePreview,
    Templates,
    Unsubscribed,
)
from hospeda.runtime.errors import QueryFailed, QueryTimeout
from hospeda.runtime.settings import Environment

router = APIRouter(tags=["notifications"], route_class=ApiRoute)

Self = Annotated[RequestContext, allow(P.SELF)]
Public = Annotated[RequestContext, allow(P.PUBLIC)]
Staff = Annotated[RequestContext, allow(P.STAFF_TEMPLATES)]


async def _mine(
    forward: Forwarder, ctx: RequestContext, name: str, params: dict[str, Any] | None = None
) -> Any:
    """Ask notify about the signed-in person (no company: it is theirs everywhere)."""
    return await forward.ask(ctx, "notify", name, params or {}, platform=True)


async def _command(
    forward: Forwarder, ctx: RequestContext, payload: Any, *, action: str, entity_id: Any
) -> Accepted:
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


@router.get(
    "/notifications",
    responses=documented(401, 403, 422, 503),
    summary="Caixa de entrada / Inbox",
)
async def inbox(
    ctx: Self,
    forward: ForwardDep,
    state: Annotated[str, Query(pattern=r"^(inbox|unread|read|archived)$")] = "inbox",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> InboxPage:
    """Your notifications, newest first: ``inbox`` (not archived), ``unread``,
    ``read`` or ``archived``."""
    answer = await _mine(
        forward, ctx, "inbox.list", {"state": state, "limit": limit, "cursor": cursor}
    )
    return InboxPage(
        items=answer["items"], next_cursor=answer.get("next_cursor"), unread=answer["unread"]
    )


@router.patch(
    "/notifications/{item_id}",
    status_code=status.HTTP_202_ACCEPTED,
    responses=documented(401, 403, 422),
    summary="Marcar uma notificação / Mark a notification",
)
async def mark(item_id: UUID, body: MarkItem, ctx: Self, forward: ForwardDep) -> Accepted:
    """Read or unread, archive or restore one of your items (another person's
    id changes nothing)."""
    command = MarkInboxItems(item_ids=(item_id,), read=body.read, archived=body.archived)
    return await _command(forward, ctx, command, action="notification.marked", entity_id=item_id)


@router.post(
    "/notifications/read-all",
    status_code=status.HTTP_202_ACCEPTED,
    responses=documented(401, 403),
    summary="Marcar todas como lidas / Mark all read",
)
async def read_all(ctx: Self, forward: ForwardDep) -> Accepted:
    command = MarkInboxItems(all_unread=True, read=True)
    return await _command(
        forward, ctx, command, action="notification.all_read", entity_id=ctx.me.user_id
    )


# --- settings ---------------------------------------------------------------------------------


@router.get(
    "/me/notification-settings",
    responses=documented(401, 403, 503),
    summary="Preferências de notificação / Notification settings",
)
async def get_settings(ctx: Self, forward: ForwardDep) -> NotificationSettings:
    """Every category × channel (security and legal are locked on), time zone,
    quiet hours for pushes, and — for staff — whether you are on duty."""
    answer: NotificationSettings = await _mine(forward, ctx, "notification_settings.get")
    return answer


@router.put(
    "/me/notification-settings",
    status_code=status.HTTP_202_ACCEPTED,
    responses=documented(401, 403, 422),
    summary="Mudar preferências / Change notification settings",
)
async def change_settings(body: SettingsIn, ctx: Self, forward: ForwardDep) -> Accepted:
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
        forward, ctx, command, action="notification_settings.changed", entity_id=ctx.me.user_id
    )


# --- web push devices ----------------------------------------------------------------------


@router.get(
    "/push/config",
    responses=documented(401, 403, 503),
    summary="Chave para assinar push / Key to subscribe to push",
)
async def push_config(ctx: Self, forward: ForwardDep) -> PushConfig:
    """``vapid_public_key`` is the ``applicationServerKey`` for ``PushManager.subscribe``."""
    answer: PushConfig = await _mine(forward, ctx, "push.config")
    return answer


@router.get(
    "/push/subscriptions",
    responses=documented(401, 403, 503),
    summary="Meus dispositivos / My devices",
)
async def devices(ctx: Self, forward: ForwardDep) -> Devices:
    return Devices(**await _mine(forward, ctx, "push_subscriptions.list"))


@router.post(
    "/push/subscriptions",
    status_code=status.HTTP_202_ACCEPTED,
    responses=documented(401, 403, 422),
    summary="Receber push neste navegador / Get pushes on this browser",
)
async def register_device(
    body: PushSubscriptionIn, ctx: Self, forward: ForwardDep, settings: SettingsDep
) -> Accepted:
    """Push services are HTTPS; plain HTTP only to this machine, outside production."""
    local = body.endpoint.startswith(("http://127.0.0.1", "http://localhost"))
    production = settings.environment is Environment.PRODUCTION
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
        forward, ctx, command, action="push_subscription.registered", entity_id=ctx.me.user_id
    )


@router.delete(
    "/push/subscriptions/{subscription_id}",
    status_code=status.HTTP_202_ACCEPTED,
    responses=documented(401, 403, 422),
    summary="Parar push em um dispositivo / Stop pushes on a device",
)
async def remove_device(subscription_id: UUID, ctx: Self, forward: ForwardDep) -> Accepted:
    command = RemovePushSubscription(subscription_id=subscription_id)
    return await _command(
        forward, ctx, command, action="push_subscription.removed", entity_id=subscription_id
    )


# --- one-click unsubscribe (RFC 8058) -----------------------------------------------------------

Token = Annotated[str, Query(min_length=10, max_length=200)]


async def _category(forward: Forwarder, token: str) -> str:
    """The category a token turns off (404 for a forged or broken one)."""
    try:
        answer = await forward.queries.ask(
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
async def unsubscribe_page(token: Token, ctx: Public, forward: ForwardDep) -> HTMLResponse:
    """What a person who opens the link sees: a button (opening a link never
    unsubscribes — mail scanners open links too)."""
    category = html.escape(await _category(forward, token))
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
async def unsubscribe(token: Token, ctx: Public, forward: ForwardDep) -> Unsubscribed:
    """RFC 8058: the mail client POSTs ``List-Unsubscribe=One-Click`` to the
    link of the e-mail's ``List-Unsubscribe`` header; that category's e-mails
    stop for the person the link was made for."""
    category = await _category(forward, token)
    # no key: a token must not travel where keys are kept (logs, the audit trail)
    await forward.command(
        ctx,
        Unsubscribe(token=token),
        topic=NOTIFY_COMMANDS,
        key=None,
        action="notification.unsubscribed",
        entity="notification_settings",
        after={"category": category, "channel": "email"},
    )
    return Unsubscribed(category=category)


# --- staff: template preview -----------------------------------------------------------------


@router.get(
    "/staff/notification-templates",
    responses=documented(401, 403, 503),
    summary="Modelos de notificação / Notification templates",
)
async def templates(ctx: Staff, forward: ForwardDep) -> Templates:
    return Templates(**await _mine(forward, ctx, "templates.list"))


@router.get(
    "/staff/notification-templates/{template}",
    responses=documented(401, 403, 404, 503),
    summary="Prévia de um modelo / Preview a template",
)
async def preview(
    template: Annotated[str, Path(max_length=100, pattern=r"^[a-z0-9-]+$")],
    ctx: Staff,
    forward: ForwardDep,
) -> TemplatePreview:
    """The template with sample data in pt-BR and English: e-mail subject,
    text and HTML, and what a push shows."""
    answer: TemplatePreview = await forward.ask(
        ctx, "notify", "templates.preview", {"template": template}, platform=True
    )
    return answer
