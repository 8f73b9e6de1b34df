"""All of the provisioning service's SQL."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.provisioning.domain import ServerLoad, ServiceState
from hospeda.provisioning.models import HostedService, ServiceAddon, WhmServer

_service = HostedService.__table__  # type: ignore[attr-defined]
_server = WhmServer.__table__  # type: ignore[attr-defined]
_addon = ServiceAddon.__table__  # type: ignore[attr-defined]

# --- servers -------------------------------------------------------------------------------


async def servers(session: AsyncSession) -> list[WhmServer]:
    result = await session.execute(sa.select(WhmServer).order_by(_server.c.name))
    return list(result.scalars())


async def server(session: AsyncSession, name: str) -> WhmServer | None:
    return await session.get(WhmServer, name)


async def accounts_per_server(session: AsyncSession) -> dict[str, int]:
    """Services placed on each server that still hold (or will hold) an account."""
    rows = await session.execute(
        sa.select(_service.c.server, sa.func.count())
        .where(_service.c.server.is_not(None), _service.c.state != ServiceState.TERMINATED.value)
        .group_by(_service.c.server)
    )
    return {name: int(count) for name, count in rows.all()}


async def server_loads(session: AsyncSession) -> list[ServerLoad]:
    counts = await accounts_per_server(session)
    return [
        ServerLoad(
            name=row.name,
            active=row.active,
            max_accounts=row.max_accounts,
            accounts=counts.get(row.name, 0),
            packages=tuple(row.packages),
        )
        for row in await servers(session)
    ]


async def deactivate_servers_except(session: AsyncSession, names: Sequence[str]) -> None:
    """Servers no longer configured take no new accounts (their accounts stay served)."""
    await session.execute(
        sa.update(_server).where(_server.c.name.not_in(list(names))).values(active=False)
    )


# --- services --------------------------------------------------------------------------------


async def service(session: AsyncSession, service_id: UUID) -> HostedService | None:
    result = await session.execute(
        sa.select(HostedService).where(_service.c.service_id == service_id)
    )
    return result.scalars().first()


async def earlier_live_service_with_domain(
    session: AsyncSession, domain: str, *, before_seq: int
) -> HostedService | None:
    """A service recorded before ``before_seq`` that holds (or will hold) ``domain``."""
    result = await session.execute(
        sa.select(HostedService).where(
            _service.c.domain == domain,
            _service.c.seq < before_seq,
            _service.c.state.in_(
                [
                    ServiceState.PENDING.value,
                    ServiceState.ACTIVE.value,
                    ServiceState.SUSPENDED.value,
                ]
            ),
        )
    )
    return result.scalars().first()


async def usernames_on(session: AsyncSession, server_name: str) -> set[str]:
    rows = await session.execute(
        sa.select(_service.c.username).where(
            _service.c.server == server_name, _service.c.username.is_not(None)
        )
    )
    return {str(name) for name in rows.scalars()}


async def services_page(
    session: AsyncSession,
    *,
    company_id: UUID | None,
    state: str | None,
    limit: int,
    before_seq: int | None,
) -> list[HostedService]:
    """Newest first; ``company_id`` None means every company (staff)."""
    statement = sa.select(HostedService).order_by(_service.c.seq.desc()).limit(limit)
    if company_id is not None:
        statement = statement.where(_service.c.company_id == company_id)
    if state:
        statement = statement.where(_service.c.state == state)
    if before_seq is not None:
        statement = statement.where(_service.c.seq < before_seq)
    return list((await session.execute(statement)).scalars())


# --- add-ons ------------------------------------------------------------------------------------


async def addons(
    session: AsyncSession, service_ids: Sequence[UUID]
) -> dict[UUID, list[ServiceAddon]]:
    if not service_ids:
        return {}
    result = await session.execute(
        sa.select(ServiceAddon)
        .where(_addon.c.service_id.in_(list(service_ids)))
        .order_by(_addon.c.code)
    )
    grouped: dict[UUID, list[ServiceAddon]] = {}
    for addon in result.scalars():
        grouped.setdefault(addon.service_id, []).append(addon)
    return grouped


async def addon(session: AsyncSession, service_id: UUID, code: str) -> ServiceAddon | None:
    return await session.get(ServiceAddon, (service_id, code))
