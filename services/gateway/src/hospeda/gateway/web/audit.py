"""The company's audit trail as a page, ``/app/auditoria``: who did what in the
active company, for its owners and admins and a staff auditor acting on it
(``audit:read``, the API's ``GET /api/v1/audit``).

The filters are a plain GET form with the API's names (so the "next page" and
"export" links carry them as they are); ``desde``/``até`` come from
``datetime-local`` inputs, read as UTC. A bad filter is the page again with the
error next to its field (422) — the audit service is not asked. Entries are
shown in the API's order, their ``before``/``after`` as compact JSON text (the
template escapes it like everything else)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError

from hospeda.gateway.api import ApiRoute, allow
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import ForwardDep
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.routes.activity import AuditFilters
from hospeda.gateway.web.render import english, field_errors, page

router = APIRouter(prefix="/app", include_in_schema=False, route_class=ApiRoute)

PAGE_SIZE = 50
JSON_SHOWN = 2000  # characters of before/after on the page; the export has all of it
FIELDS = ("action", "actor_id", "entity", "entity_id", "correlation_id", "since", "until")
ACTOR_KINDS = {
    "user": ("pessoa", "person"),
    "staff": ("equipe Hospeda", "Hospeda staff"),
    "api_token": ("token de API", "API token"),
    "system": ("sistema", "system"),
}


class _Typed(BaseModel):
    """The text filters with the API's limits (``AuditFilters``), for its wording."""

    actor_id: str | None = Field(None, max_length=200)
    action: str | None = Field(None, max_length=100)
    entity: str | None = Field(None, max_length=100)
    entity_id: str | None = Field(None, max_length=255)
    correlation_id: UUID | None = None
    cursor: str | None = Field(None, max_length=500)


def _instant(text: str) -> datetime:
    """A ``datetime-local`` value (no zone: UTC) or an ISO instant, as an aware UTC time."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _filters(
    form: dict[str, str], cursor: str | None, en: bool
) -> tuple[AuditFilters | None, dict[str, str]]:
    """The form as the API's filters, or what is wrong with it (by field)."""
    errors: dict[str, str] = {}
    typed: _Typed | None = None
    try:
        typed = _Typed.model_validate(
            {
                **{k: form[k] or None for k in FIELDS if k not in ("since", "until")},
                "cursor": cursor,
            }
        )
    except ValidationError as exc:
        errors.update(field_errors(exc, en))
    times: dict[str, datetime | None] = {"since": None, "until": None}
    for name in times:
        if not form[name]:
            continue
        try:
            times[name] = _instant(form[name])
        except (ValueError, OverflowError):
            errors[name] = (
                "Invalid date and time: use the picker, or YYYY-MM-DDTHH:MM (UTC)."
                if en
                else "Data e hora inválidas: use o seletor, ou AAAA-MM-DDTHH:MM (UTC)."
            )
    since, until = times["since"], times["until"]
    if since is not None and until is not None and until <= since:
        errors["until"] = "Must be after “from”." if en else "Tem de ser depois de “desde”."
    if "cursor" in errors:  # not a field of the form: the link was edited by hand
        errors["form"] = errors.pop("cursor")
    if errors or typed is None:
        return None, errors
    filters = AuditFilters(
        actor_id=typed.actor_id,
        action=typed.action,
        entity=typed.entity,
        entity_id=typed.entity_id,
        correlation_id=typed.correlation_id,
        since=since,
        until=until,
    )
    return filters, {}


def _compact(value: Any) -> str | None:
    """``before``/``after`` as one line of JSON (plain text: the template escapes it)."""
    if value is None:
        return None
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= JSON_SHOWN else text[:JSON_SHOWN] + "…"


def _row(item: dict[str, Any], en: bool) -> dict[str, Any]:
    actor = item.get("actor") or {}
    kind = str(actor.get("kind") or "")
    pair = ACTOR_KINDS.get(kind)
    return {
        "id": item.get("id"),
        "occurred_at": item.get("occurred_at"),
        "actor_kind": (pair[1] if en else pair[0]) if pair else (kind or "—"),
        "actor_id": actor.get("id"),
        "action": item.get("action"),
        "entity": item.get("entity"),
        "entity_id": item.get("entity_id"),
        "ip": item.get("ip"),
        "before": _compact(item.get("before")),
        "after": _compact(item.get("after")),
    }


@router.get("/auditoria")
async def trail(
    ctx: Annotated[RequestContext, allow(P.AUDIT_READ)],
    forward: ForwardDep,
    action: str = "",
    actor_id: str = "",
    entity: str = "",
    entity_id: str = "",
    correlation_id: str = "",
    since: str = "",
    until: str = "",
    cursor: str = "",
) -> Response:
    """The active company's audit trail, a page at a time, with its filters."""
    request = ctx.request
    en = english(request)
    form = {
        "action": action.strip(),
        "actor_id": actor_id.strip(),
        "entity": entity.strip(),
        "entity_id": entity_id.strip(),
        "correlation_id": correlation_id.strip(),
        "since": since.strip(),
        "until": until.strip(),
    }
    filters, errors = _filters(form, cursor.strip() or None, en)
    shown = {k: v for k, v in form.items() if v}
    values: dict[str, Any] = {
        "form": form,
        "errors": errors,
        "filtered": bool(shown),
        "entries": [],
        "next_url": None,
        "export_url": None,
    }
    if filters is None:
        return page(request, "auditoria.html", ctx, status=422, **values)
    found = await forward.page(
        ctx, "audit", "entries.list", limit=PAGE_SIZE, cursor=cursor.strip() or None,
        **filters.params(),
    )  # fmt: skip
    values["entries"] = [_row(item, en) for item in found.items]
    if found.next_cursor:
        values["next_url"] = "/app/auditoria?" + urlencode({**shown, "cursor": found.next_cursor})
    if P.AUDIT_EXPORT in ctx.me.permissions:
        exported = {k: v for k, v in filters.params().items() if v is not None}
        values["export_url"] = "/api/v1/audit/export?" + urlencode({"format": "csv", **exported})
    return page(request, "auditoria.html", ctx, **values)
