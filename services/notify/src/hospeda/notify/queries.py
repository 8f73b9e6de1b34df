"""What the gateway may ask notify (request/reply).

A person's inbox, settings and devices are the asking person's own — the
person is the query's actor, never a parameter. A company's deliveries are
the query's company's. Template previews are for staff.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from hospeda.contracts import ActorKind
from hospeda.notify import domain
from hospeda.notify import repository as repo
from hospeda.notify.links import Links
from hospeda.notify.models import CompletedProbe, InboxItem
from hospeda.notify.service.people import acting_person, settings_view
from hospeda.notify.templates import SAMPLES, TEMPLATES, Footer, render
from hospeda.runtime.errors import Forbidden, NotFound, PermanentError
from hospeda.runtime.messaging import QueryContext

INBOX_STATES = ("inbox", "unread", "read", "archived")


def _limit(params: dict[str, Any], default: int = 50) -> int:
    try:
        return max(1, min(int(params.get("limit", default)), 200))
    except (TypeError, ValueError):
        raise PermanentError("limit deve ser um número / limit must be a number") from None


def _uuid(value: Any, name: str) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise PermanentError(f"{name} must be a UUID") from None


async def get_probe(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
    probe = await ctx.session.get(CompletedProbe, _uuid(params.get("probe_id"), "probe_id"))
    if probe is None:
        raise NotFound("sonda não concluída / probe not completed (yet)")
    return {
        "probe_id": str(probe.probe_id),
        "correlation_id": str(probe.correlation_id),
        "hops": probe.hops,
        "completed_at": probe.completed_at.isoformat(),
    }


async def list_deliveries(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
    """The company's deliveries, newest first (cursor = last id seen)."""
    if ctx.company_id is None:
        raise PermanentError("company_id is required")
    limit = _limit(params)
    before = int(params["cursor"]) if params.get("cursor") else None
    rows = await repo.deliveries_page(ctx.session, ctx.company_id, limit=limit + 1, before=before)
    items = [
        {
            "notification_id": str(d.notification_id),
            "channel": d.channel,
            "template": d.template,
            "address": d.address,
            "subject": d.subject,
            "status": d.status,
            "reason": d.reason,
            "sent_at": d.sent_at.isoformat(),
        }
        for d in rows[:limit]
    ]
    return {"items": items, "next_cursor": str(rows[limit - 1].id) if len(rows) > limit else None}


def inbox_item(item: InboxItem) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "notification_id": str(item.notification_id),
        "company_id": str(item.company_id) if item.company_id else None,
        "template": item.template,
        "category": item.category,
        "title": item.title,
        "body": item.body,
        "url": item.url,
        "created_at": item.created_at.isoformat(),
        "read": item.read_at is not None,
        "archived": item.archived_at is not None,
    }


async def list_inbox(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
    """The asking person's inbox, newest first; ``state``: inbox (not
    archived), unread, read or archived."""
    user_id = acting_person(ctx.query)
    state = str(params.get("state") or "inbox")
    if state not in INBOX_STATES:
        raise PermanentError(f"state must be one of {', '.join(INBOX_STATES)}")
    limit = _limit(params, 20)
    before = _uuid(params["cursor"], "cursor") if params.get("cursor") else None
    rows = await repo.inbox_page(ctx.session, user_id, state=state, limit=limit + 1, before=before)
    return {
        "items": [inbox_item(i) for i in rows[:limit]],
        "next_cursor": str(rows[limit - 1].id) if len(rows) > limit else None,
        "unread": await repo.unread_count(ctx.session, user_id),
    }


async def get_settings(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
    return await settings_view(ctx.session, acting_person(ctx.query))


async def list_devices(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
    devices = await repo.devices_of(ctx.session, acting_person(ctx.query))
    return {
        "items": [
            {
                "id": str(d.id),
                "user_agent": d.user_agent,
                "created_at": d.created_at.isoformat(),
                "last_used_at": d.last_used_at.isoformat() if d.last_used_at else None,
            }
            for d in devices
        ],
        "next_cursor": None,
    }


def push_config(vapid_public_key: str) -> dict[str, Any]:
    """What a browser subscribes with (``applicationServerKey``): public by nature."""
    return {"vapid_public_key": vapid_public_key}


def check_unsubscribe(params: dict[str, Any], links: Links) -> dict[str, Any]:
    found = links.read_unsubscribe_token(str(params.get("token") or ""))
    if found is None:
        raise NotFound("link de descadastro inválido / invalid unsubscribe link")
    return {"category": found[1].value}


def _require_staff(ctx: QueryContext) -> None:
    if ctx.actor.kind != ActorKind.STAFF:
        raise Forbidden("somente a equipe / staff only")


def list_templates(ctx: QueryContext) -> dict[str, Any]:
    _require_staff(ctx)
    return {
        "items": [
            {
                "template": n.template,
                "category": n.category.value,
                "essential": n.essential,
                "unsubscribable": domain.unsubscribable(n),
                "channels": sorted(c.value for c in n.channels),
                "urgency": n.urgency.value,
            }
            for n in domain.NOTICES.values()
        ],
        "next_cursor": None,
    }


def preview_template(params: dict[str, Any], ctx: QueryContext, links: Links) -> dict[str, Any]:
    """A template in both languages with sample data, as every channel shows it."""
    _require_staff(ctx)
    name = str(params.get("template") or "")
    if name not in TEMPLATES:
        raise NotFound(f"modelo desconhecido / unknown template {name!r}")
    kind = domain.notice(name)
    sample_user = UUID(int=0)
    footer = Footer(
        preferences=links.preferences(),
        unsubscribe=links.unsubscribe(sample_user, kind.category)
        if domain.unsubscribable(kind)
        else None,
    )
    answer: dict[str, Any] = {
        "template": name,
        "category": kind.category.value,
        "essential": kind.essential,
        "sample_data": SAMPLES[name],
    }
    for locale in ("pt-BR", "en"):
        text = render(name, locale, dict(SAMPLES[name]), footer)
        answer[locale] = {
            "subject": text.subject,
            "text": text.body,
            "html": text.html,
            "push": {"title": text.subject, "body": text.summary},
        }
    return answer
