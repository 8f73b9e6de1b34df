"""What the gateway may ask provisioning (request/reply): services and, for
staff, the server inventory. The tenant is the query's company, never a
parameter; another company's service answers ``NotFound`` like a missing one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from hospeda.contracts import ActorKind
from hospeda.provisioning import repository as repo
from hospeda.provisioning.models import HostedService, ServiceAddon
from hospeda.runtime.errors import Forbidden, NotFound, PermanentError
from hospeda.runtime.jobs import JobEngine
from hospeda.runtime.messaging import QueryContext


def _tenant(ctx: QueryContext) -> UUID | None:
    """The company whose data the asker may see; None means all (staff only)."""
    if ctx.company_id is not None:
        return ctx.company_id
    if ctx.actor.kind == ActorKind.STAFF:
        return None
    raise Forbidden("escolha uma empresa / choose a company first")


def _require_staff(ctx: QueryContext) -> None:
    if ctx.actor.kind != ActorKind.STAFF:
        raise Forbidden("somente a equipe / staff only")


def _limit(params: dict[str, Any]) -> int:
    try:
        return max(1, min(int(params.get("limit", 50)), 200))
    except (TypeError, ValueError):
        raise PermanentError("limit deve ser um número / limit must be a number") from None


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _addon_item(addon: ServiceAddon) -> dict[str, Any]:
    return {
        "code": addon.code,
        "state": addon.state,
        "subscription_id": str(addon.subscription_id) if addon.subscription_id else None,
        "details": addon.details,
        "updated_at": _iso(addon.updated_at),
    }


def _service_item(record: HostedService, addons: list[ServiceAddon]) -> dict[str, Any]:
    return {
        "service_id": str(record.service_id),
        "subscription_id": str(record.subscription_id) if record.subscription_id else None,
        "domain": record.domain,
        "plan_code": record.plan_code,
        "whm_package": record.whm_package,
        "state": record.state,
        "server": record.server,
        "username": record.username,
        "ip": record.ip,
        "suspend_reason": record.suspend_reason,
        "last_error": record.last_error,
        "last_job_id": str(record.last_job_id) if record.last_job_id else None,
        "addons": [_addon_item(a) for a in addons],
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
        "activated_at": _iso(record.activated_at),
        "terminated_at": _iso(record.terminated_at),
    }


async def list_services(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
    """``services.list``: ``{limit, cursor, state}`` → ``{items, next_cursor}``, newest first
    (``status`` is accepted for ``state``: the gateway's name for the filter)."""
    limit = _limit(params)
    cursor = params.get("cursor")
    try:
        before = int(cursor) if cursor else None
    except ValueError:
        raise PermanentError("cursor inválido / invalid cursor") from None
    rows = await repo.services_page(
        ctx.session,
        company_id=_tenant(ctx),
        state=params.get("state") or params.get("status"),
        limit=limit + 1,
        before_seq=before,
    )
    page = rows[:limit]
    addons = await repo.addons(ctx.session, [r.service_id for r in page])
    return {
        "items": [_service_item(r, addons.get(r.service_id, [])) for r in page],
        "next_cursor": str(page[-1].seq) if len(rows) > limit else None,
    }


async def get_service(
    params: dict[str, Any], ctx: QueryContext, engine: JobEngine
) -> dict[str, Any]:
    """``services.get``: ``{service_id}`` → the service, its add-ons and its
    last job with the step log."""
    try:
        service_id = UUID(str(params.get("service_id")))
    except ValueError:
        raise PermanentError("service_id deve ser um UUID / service_id must be a UUID") from None
    tenant = _tenant(ctx)
    record = await repo.service(ctx.session, service_id)
    if record is None or (tenant is not None and record.company_id != tenant):
        raise NotFound(f"serviço não encontrado / service not found: {service_id}")
    addons = await repo.addons(ctx.session, [service_id])
    item = _service_item(record, addons.get(service_id, []))
    item["last_job"] = (
        (await engine.get(ctx.session, record.last_job_id)).as_dict()
        if record.last_job_id
        else None
    )
    return item


async def list_servers(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
    """``servers.list`` (staff): the inventory with load and capacity; never credentials."""
    _require_staff(ctx)
    counts = await repo.accounts_per_server(ctx.session)
    items = []
    for row in await repo.servers(ctx.session):
        accounts = counts.get(row.name, 0)
        items.append(
            {
                "name": row.name,
                "url": row.url,
                "api_user": row.api_user,
                "active": row.active,
                "max_accounts": row.max_accounts,
                "accounts": accounts,
                "free": max(0, row.max_accounts - accounts),
                "concurrency": row.concurrency,
                "packages": row.packages,
                "verify_tls": row.verify_tls,
                "updated_at": _iso(row.updated_at),
            }
        )
    return {"items": items, "next_cursor": None}
