"""All of notify's SQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts.notify import Category, Channel
from hospeda.notify.domain import Preferences
from hospeda.notify.models import (
    AlertWindow,
    Company,
    Delivery,
    InboxItem,
    Membership,
    Person,
    PersonSettings,
    Preference,
    PushSubscription,
    StaffMember,
)
from hospeda.runtime.db import insert_for

_delivery = Delivery.__table__  # type: ignore[attr-defined]
_inbox = InboxItem.__table__  # type: ignore[attr-defined]
_person = Person.__table__  # type: ignore[attr-defined]
_membership = Membership.__table__  # type: ignore[attr-defined]
_staff = StaffMember.__table__  # type: ignore[attr-defined]
_settings = PersonSettings.__table__  # type: ignore[attr-defined]
_preference = Preference.__table__  # type: ignore[attr-defined]
_device = PushSubscription.__table__  # type: ignore[attr-defined]


async def upsert(
    session: AsyncSession, model: Any, values: dict[str, Any], keys: Sequence[str]
) -> None:
    """Insert ``values``, or update the row with the same ``keys``."""
    updates = {k: v for k, v in values.items() if k not in keys}
    statement = insert_for(session, model).values(**values)
    if updates:
        statement = statement.on_conflict_do_update(index_elements=list(keys), set_=updates)
    else:
        statement = statement.on_conflict_do_nothing()
    await session.execute(statement)


# --- people, companies, staff ------------------------------------------------------------------


async def forget_membership(session: AsyncSession, company_id: UUID, user_id: UUID) -> None:
    await session.execute(
        sa.delete(_membership).where(
            _membership.c.company_id == company_id, _membership.c.user_id == user_id
        )
    )


async def set_staff_role(session: AsyncSession, user_id: UUID, role: str | None) -> None:
    if role is None:
        await session.execute(sa.delete(_staff).where(_staff.c.user_id == user_id))
    else:
        await upsert(session, StaffMember, {"user_id": user_id, "role": role}, ["user_id"])


async def person(session: AsyncSession, user_id: UUID) -> Person | None:
    return await session.get(Person, user_id)


async def company_name(session: AsyncSession, company_id: UUID | None) -> str | None:
    if company_id is None:
        return None
    company = await session.get(Company, company_id)
    return company.name if company else None


async def members(session: AsyncSession, company_id: UUID, roles: Iterable[str]) -> list[Person]:
    """The company's members holding one of ``roles``."""
    result = await session.execute(
        sa.select(Person)
        .join(_membership, _membership.c.user_id == _person.c.user_id)
        .where(_membership.c.company_id == company_id, _membership.c.role.in_(list(roles)))
        .order_by(_person.c.email)
    )
    return list(result.scalars())


async def staff(session: AsyncSession, roles: Iterable[str]) -> list[tuple[Person, bool]]:
    """Staff holding one of ``roles``, each with whether they are on duty."""
    result = await session.execute(
        sa.select(Person, sa.func.coalesce(_settings.c.on_duty, sa.true()))
        .join(_staff, _staff.c.user_id == _person.c.user_id)
        .outerjoin(_settings, _settings.c.user_id == _person.c.user_id)
        .where(_staff.c.role.in_(list(roles)))
        .order_by(_person.c.email)
    )
    return [(row[0], bool(row[1])) for row in result.all()]


async def settings_of(
    session: AsyncSession, user_ids: Sequence[UUID]
) -> dict[UUID, PersonSettings]:
    if not user_ids:
        return {}
    result = await session.execute(
        sa.select(PersonSettings).where(_settings.c.user_id.in_(list(user_ids)))
    )
    return {s.user_id: s for s in result.scalars()}


async def preferences_of(
    session: AsyncSession, user_ids: Sequence[UUID]
) -> dict[UUID, Preferences]:
    choices: dict[UUID, dict[tuple[Category, Channel], bool]] = {u: {} for u in user_ids}
    if user_ids:
        rows = await session.execute(
            sa.select(_preference).where(_preference.c.user_id.in_(list(user_ids)))
        )
        for row in rows:
            choices[row.user_id][(Category(row.category), Channel(row.channel))] = row.enabled
    return {user_id: Preferences(c) for user_id, c in choices.items()}


async def save_preference(
    session: AsyncSession, user_id: UUID, category: Category, channel: Channel, enabled: bool
) -> None:
    await upsert(
        session,
        Preference,
        {
            "user_id": user_id,
            "category": category.value,
            "channel": channel.value,
            "enabled": enabled,
        },
        ["user_id", "category", "channel"],
    )


async def settings_for_update(session: AsyncSession, user_id: UUID) -> PersonSettings:
    """The person's settings row (created with the defaults), to change."""
    await upsert(session, PersonSettings, {"user_id": user_id}, ["user_id"])
    found = await session.get(PersonSettings, user_id, with_for_update=True)
    assert found is not None
    return found


# --- push devices -----------------------------------------------------------------------------


async def devices_of(session: AsyncSession, user_id: UUID) -> list[PushSubscription]:
    result = await session.execute(
        sa.select(PushSubscription)
        .where(_device.c.user_id == user_id)
        .order_by(_device.c.created_at)
    )
    return list(result.scalars())


async def people_with_devices(session: AsyncSession, user_ids: Sequence[UUID]) -> set[UUID]:
    if not user_ids:
        return set()
    result = await session.execute(
        sa.select(_device.c.user_id).where(_device.c.user_id.in_(list(user_ids))).distinct()
    )
    return set(result.scalars())


async def device_by_endpoint(session: AsyncSession, endpoint: str) -> PushSubscription | None:
    result = await session.execute(
        sa.select(PushSubscription).where(_device.c.endpoint == endpoint)
    )
    return result.scalars().first()


async def remove_device(
    session: AsyncSession, subscription_id: UUID, user_id: UUID | None = None
) -> PushSubscription | None:
    """Delete one device (only ``user_id``'s, when given); the row it was."""
    device = await session.get(PushSubscription, subscription_id)
    if device is None or (user_id is not None and device.user_id != user_id):
        return None
    await session.delete(device)
    return device


async def touch_device(session: AsyncSession, subscription_id: UUID, at: datetime) -> None:
    await session.execute(
        sa.update(_device).where(_device.c.id == subscription_id).values(last_used_at=at)
    )


# --- the inbox --------------------------------------------------------------------------------


async def add_inbox_item(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Keep an item, once per notification and person; whether it is new."""
    statement = (
        insert_for(session, InboxItem)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(_inbox.c.id)
    )
    return (await session.execute(statement)).first() is not None


async def inbox_page(
    session: AsyncSession, user_id: UUID, *, state: str, limit: int, before: UUID | None
) -> list[InboxItem]:
    """Newest first; ``state``: ``unread``, ``read``, ``archived`` or ``inbox``
    (everything not archived)."""
    statement = sa.select(InboxItem).where(_inbox.c.user_id == user_id)
    if state == "archived":
        statement = statement.where(_inbox.c.archived_at.is_not(None))
    else:
        statement = statement.where(_inbox.c.archived_at.is_(None))
    if state == "unread":
        statement = statement.where(_inbox.c.read_at.is_(None))
    elif state == "read":
        statement = statement.where(_inbox.c.read_at.is_not(None))
    if before is not None:
        statement = statement.where(_inbox.c.id < before)
    result = await session.execute(statement.order_by(_inbox.c.id.desc()).limit(limit))
    return list(result.scalars())


async def unread_count(session: AsyncSession, user_id: UUID) -> int:
    result = await session.execute(
        sa.select(sa.func.count()).where(
            _inbox.c.user_id == user_id, _inbox.c.read_at.is_(None), _inbox.c.archived_at.is_(None)
        )
    )
    return int(result.scalar_one())


async def items_to_mark(
    session: AsyncSession, user_id: UUID, item_ids: Sequence[UUID], *, all_unread: bool
) -> list[InboxItem]:
    """The person's own items among ``item_ids`` (or all unread ones), locked."""
    statement = sa.select(InboxItem).where(_inbox.c.user_id == user_id)
    if all_unread:
        statement = statement.where(_inbox.c.read_at.is_(None), _inbox.c.archived_at.is_(None))
    else:
        statement = statement.where(_inbox.c.id.in_(list(item_ids)))
    result = await session.execute(statement.with_for_update())
    return list(result.scalars())


# --- deliveries -------------------------------------------------------------------------------


async def record_delivery(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Record where one delivery stands; whether that changed anything (so a
    retried job announces each status once)."""
    insert = insert_for(session, Delivery).values(**values)
    statement = insert.on_conflict_do_update(
        index_elements=["notification_id", "channel", "address"],
        set_={
            "status": values["status"],
            "reason": values.get("reason"),
            "sent_at": values["sent_at"],
        },
        where=_delivery.c.status != values["status"],
    ).returning(_delivery.c.id)
    return (await session.execute(statement)).first() is not None


async def deliveries_page(
    session: AsyncSession, company_id: UUID, *, limit: int, before: int | None
) -> list[Delivery]:
    statement = (
        sa.select(Delivery)
        .where(_delivery.c.company_id == company_id)
        .order_by(_delivery.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        statement = statement.where(_delivery.c.id < before)
    return list((await session.execute(statement)).scalars())


# --- operator alerts --------------------------------------------------------------------------


NEVER = datetime(1970, 1, 1, tzinfo=UTC)


async def alert_window(session: AsyncSession, key: str) -> AlertWindow:
    """The key's window (a closed one the first time), locked until the
    transaction ends: one pacing decision at a time."""
    fresh = {"alert_key": key, "started_at": NEVER, "suppressed": 0, "samples": []}
    await session.execute(insert_for(session, AlertWindow).values(**fresh).on_conflict_do_nothing())
    found = await session.get(AlertWindow, key, with_for_update=True)
    assert found is not None
    return found
