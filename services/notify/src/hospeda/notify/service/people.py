"""People as notify knows them: who they are (identity events), how they want
to be reached (settings, preferences, one-click unsubscribe), their push
devices and their inbox."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts import ActorKind, Envelope, new_id, utcnow
from hospeda.contracts.notify import (
    ChangeNotificationSettings,
    Channel,
    ChannelPreference,
    InboxItemMarked,
    MarkInboxItems,
    NotificationSettingsChanged,
    PushSubscriptionRegistered,
    PushSubscriptionRemoved,
    RegisterPushSubscription,
    RemovePushSubscription,
)
from hospeda.contracts.topics import NOTIFY_INBOX, NOTIFY_PERSON
from hospeda.notify import domain
from hospeda.notify import repository as repo
from hospeda.notify.links import Links
from hospeda.notify.models import Company, Membership, Person, PushSubscription
from hospeda.runtime.errors import Forbidden, NotFound
from hospeda.runtime.messaging import MessageContext

# --- identity facts -----------------------------------------------------------------------------


async def remember_person(
    session: AsyncSession, *, user_id: UUID, email: str, name: str, locale: str
) -> None:
    values = {"user_id": user_id, "email": email, "name": name, "locale": locale}
    await repo.upsert(session, Person, values, ["user_id"])


async def remember_membership(
    session: AsyncSession, *, company_id: UUID, user_id: UUID, role: str
) -> None:
    values = {"company_id": company_id, "user_id": user_id, "role": role}
    await repo.upsert(session, Membership, values, ["company_id", "user_id"])


async def forget_membership(session: AsyncSession, *, company_id: UUID, user_id: UUID) -> None:
    await repo.forget_membership(session, company_id, user_id)


async def remember_company(
    session: AsyncSession, *, company_id: UUID, name: str, locale: str
) -> None:
    values = {"company_id": company_id, "name": name, "locale": locale}
    await repo.upsert(session, Company, values, ["company_id"])


async def remember_staff_role(session: AsyncSession, *, user_id: UUID, role: str | None) -> None:
    await repo.set_staff_role(session, user_id, role)


def acting_person(message: Envelope[Any]) -> UUID:
    """The person a self-service command or query is about: whoever sent it
    (a signed-in user, or staff as themselves), never a parameter."""
    actor = message.actor
    if actor.kind not in (ActorKind.USER, ActorKind.STAFF) or not actor.id:
        raise Forbidden("somente a própria pessoa / only the person themselves")
    try:
        return UUID(actor.id)
    except ValueError:
        raise Forbidden("somente a própria pessoa / only the person themselves") from None


# --- settings and preferences ---------------------------------------------------------------


async def change_settings(
    ctx: MessageContext, user_id: UUID, change: ChangeNotificationSettings, *, via: str = "settings"
) -> None:
    """Apply what the person changed; security and legal notices stay on."""
    for choice in change.preferences:
        domain.check_preference(choice.category, choice.channel, choice.enabled)
    if change.time_zone is not None:
        domain.time_zone(change.time_zone)
    if (change.quiet_hours_start is None) != (change.quiet_hours_end is None):
        raise domain.SettingRefused(
            "informe o início e o fim do horário de silêncio / give both ends of the quiet hours"
        )
    session = ctx.session
    settings = await repo.settings_for_update(session, user_id)
    if change.time_zone is not None:
        settings.time_zone = change.time_zone
    if change.clear_quiet_hours:
        settings.quiet_hours_start = settings.quiet_hours_end = None
    elif change.quiet_hours_start is not None:
        settings.quiet_hours_start = change.quiet_hours_start
        settings.quiet_hours_end = change.quiet_hours_end
    if change.on_duty is not None:
        settings.on_duty = change.on_duty
    for choice in change.preferences:
        await repo.save_preference(
            session, user_id, choice.category, choice.channel, choice.enabled
        )
    await session.flush()
    view = await settings_view(session, user_id)
    ctx.emit(
        NotificationSettingsChanged(
            user_id=user_id,
            preferences=tuple(ChannelPreference(**p) for p in view["preferences"]),
            time_zone=view["time_zone"],
            quiet_hours_start=view["quiet_hours_start"],
            quiet_hours_end=view["quiet_hours_end"],
            on_duty=view["on_duty"],
            via=via,
        ),
        topic=NOTIFY_PERSON,
        key=user_id,
        company_id=None,
    )


async def unsubscribe(ctx: MessageContext, links: Links, token: str) -> None:
    """RFC 8058 one-click: the category's e-mails off for the token's person."""
    found = links.read_unsubscribe_token(token)
    if found is None:
        raise NotFound("link de descadastro inválido / invalid unsubscribe link")
    user_id, category = found
    change = ChangeNotificationSettings(
        preferences=(ChannelPreference(category=category, channel=Channel.EMAIL, enabled=False),)
    )
    await change_settings(ctx, user_id, change, via="unsubscribe")


async def settings_view(session: AsyncSession, user_id: UUID) -> dict[str, Any]:
    """A person's settings as the web app shows them."""
    settings = (await repo.settings_of(session, [user_id])).get(user_id)
    preferences = (await repo.preferences_of(session, [user_id]))[user_id]
    return {
        "preferences": [
            {
                "category": category.value,
                "channel": channel.value,
                "enabled": enabled,
                "locked": category in domain.ALWAYS_ON,
            }
            for category, channel, enabled in preferences.table()
        ],
        "time_zone": settings.time_zone if settings else domain.DEFAULT_TIME_ZONE,
        "quiet_hours_start": settings.quiet_hours_start if settings else None,
        "quiet_hours_end": settings.quiet_hours_end if settings else None,
        "on_duty": settings.on_duty if settings else True,
    }


# --- push devices ----------------------------------------------------------------------------


async def register_device(
    ctx: MessageContext, user_id: UUID, command: RegisterPushSubscription
) -> None:
    """Keep a browser's push subscription; the same endpoint again refreshes it
    (and moves it to whoever signed in on that browser now)."""
    session, now = ctx.session, utcnow()
    device = await repo.device_by_endpoint(session, command.endpoint)
    if device is None:
        device = PushSubscription(
            id=new_id(),
            user_id=user_id,
            endpoint=command.endpoint,
            p256dh=command.p256dh,
            auth_secret=command.auth_secret,
            user_agent=command.user_agent,
            created_at=now,
            expires_at=command.expires_at,
        )
        session.add(device)
    else:
        if device.user_id != user_id:
            _removed(ctx, device, "outra pessoa entrou neste navegador / another person signed in")
        device.user_id, device.p256dh, device.auth_secret = (
            user_id,
            command.p256dh,
            command.auth_secret,
        )
        device.user_agent, device.expires_at = command.user_agent, command.expires_at
    device.last_used_at = now
    ctx.emit(
        PushSubscriptionRegistered(
            subscription_id=device.id, user_id=user_id, user_agent=command.user_agent
        ),
        topic=NOTIFY_PERSON,
        key=user_id,
        company_id=None,
    )


async def remove_device(
    ctx: MessageContext, user_id: UUID, command: RemovePushSubscription
) -> None:
    device = await repo.remove_device(ctx.session, command.subscription_id, user_id)
    if device is not None:  # another person's device, or one already gone: nothing to do
        _removed(ctx, device, "removido pela pessoa / removed by its person")


def _removed(ctx: MessageContext, device: PushSubscription, reason: str) -> None:
    ctx.emit(
        PushSubscriptionRemoved(subscription_id=device.id, user_id=device.user_id, reason=reason),
        topic=NOTIFY_PERSON,
        key=device.user_id,
        company_id=None,
    )


# --- the inbox -----------------------------------------------------------------------------------


async def mark_items(ctx: MessageContext, user_id: UUID, command: MarkInboxItems) -> None:
    """Read/unread, archive/restore the person's own items; each change announced."""
    now = utcnow()
    items = await repo.items_to_mark(
        ctx.session, user_id, command.item_ids, all_unread=command.all_unread
    )
    for item in items:
        before = (item.read_at is not None, item.archived_at is not None)
        if command.read is not None and command.read != before[0]:
            item.read_at = now if command.read else None
        if command.archived is not None and command.archived != before[1]:
            item.archived_at = now if command.archived else None
        after = (item.read_at is not None, item.archived_at is not None)
        if after != before:
            ctx.emit(
                InboxItemMarked(item_id=item.id, user_id=user_id, read=after[0], archived=after[1]),
                topic=NOTIFY_INBOX,
                key=user_id,
                company_id=item.company_id,
            )
