"""DNS zones and records — owned by the dns service. Record changes are
commands, sent once dns confirmed the zone belongs to the active company."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from hospeda.contracts.dns import CheckDelegation, CreateRecord, DeleteRecord, UpdateRecord
from hospeda.contracts.topics import DNS_COMMANDS
from hospeda.gateway.api import DEFAULT_LIMIT, MAX_LIMIT, ApiRoute, allow
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import ForwardDep, RedisDep
from hospeda.gateway.limits import too_many
from hospeda.gateway.permissions import Permission as P
from hospeda.gateway.problems import documented
from hospeda.gateway.schemas.common import Accepted
from hospeda.gateway.schemas.dns import RecordIn, Zone, Zones

router = APIRouter(prefix="/zones", tags=["dns"], route_class=ApiRoute)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500)]
Domain = Annotated[
    str,
    Path(
        min_length=3,
        max_length=253,
        pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        description="Lower-case, IDNA (xn--) form.",
        examples=["paoquente.com.br"],
    ),
]
RecordId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
READ = documented(401, 403, 422, 503)
ONE = documented(401, 403, 404, 422, 503)
SERVICE = "dns"
CHECK_EVERY_S = 30  # "check now" once per zone in this long: each check walks the DNS tree


@router.get("", responses=READ, summary="Zonas DNS / DNS zones")
async def list_zones(
    ctx: Annotated[RequestContext, allow(P.DNS_READ)],
    forward: ForwardDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Zones:
    return await forward.page(ctx, SERVICE, "zones.list", limit=limit, cursor=cursor)


@router.get(
    "/{domain}", responses=ONE, summary="Uma zona e seus registros / A zone and its records"
)
async def get_zone(
    domain: Domain, ctx: Annotated[RequestContext, allow(P.DNS_READ)], forward: ForwardDep
) -> Zone:
    return await forward.get(ctx, SERVICE, "zones.get", domain=domain)


@router.post(
    "/{domain}/check",
    status_code=status.HTTP_202_ACCEPTED,
    responses=documented(401, 403, 404, 422, 429, 503),
    summary="Verificar a delegação agora / Check the delegation now",
)
async def check_delegation(
    domain: Domain,
    ctx: Annotated[RequestContext, allow(P.DNS_WRITE)],
    forward: ForwardDep,
    redis: RedisDep,
) -> Accepted:
    """Ask dns to check the domain's nameservers at once (the result arrives on
    `GET /events` as `dns.delegation.*`, and in `GET /zones/{domain}`). Once per
    zone every 30 s; a domain whose waiting period ran out starts a new one."""
    await forward.get(ctx, SERVICE, "zones.get", domain=domain)
    key = f"hospeda:limit:dns-check:{ctx.company_id}:{domain}"
    if not await redis.set(key, 1, ex=CHECK_EVERY_S, nx=True):
        raise too_many(int(await redis.ttl(key)) or CHECK_EVERY_S)
    return await forward.command(
        ctx,
        CheckDelegation(domain=domain),
        topic=DNS_COMMANDS,
        key=domain,
        action="dns.delegation.check",
        entity="zone",
        entity_id=domain,
    )


@router.post(
    "/{domain}/records",
    status_code=status.HTTP_202_ACCEPTED,
    responses=ONE,
    summary="Criar um registro / Create a record",
)
async def create_record(
    domain: Domain,
    body: RecordIn,
    ctx: Annotated[RequestContext, allow(P.DNS_WRITE)],
    forward: ForwardDep,
) -> Accepted:
    await forward.get(ctx, SERVICE, "zones.get", domain=domain)
    return await forward.command(
        ctx,
        CreateRecord(domain=domain, record=body.record),
        topic=DNS_COMMANDS,
        key=domain,
        action="dns.record.create",
        entity="zone",
        entity_id=domain,
    )


@router.put(
    "/{domain}/records/{record_id}",
    status_code=status.HTTP_202_ACCEPTED,
    responses=ONE,
    summary="Alterar um registro / Update a record",
)
async def update_record(
    domain: Domain,
    record_id: RecordId,
    body: RecordIn,
    ctx: Annotated[RequestContext, allow(P.DNS_WRITE)],
    forward: ForwardDep,
) -> Accepted:
    await forward.get(ctx, SERVICE, "zones.get", domain=domain)
    return await forward.command(
        ctx,
        UpdateRecord(domain=domain, record_id=record_id, record=body.record),
        topic=DNS_COMMANDS,
        key=domain,
        action="dns.record.update",
        entity="zone",
        entity_id=domain,
    )


@router.delete(
    "/{domain}/records/{record_id}",
    status_code=status.HTTP_202_ACCEPTED,
    responses=ONE,
    summary="Apagar um registro / Delete a record",
)
async def delete_record(
    domain: Domain,
    record_id: RecordId,
    ctx: Annotated[RequestContext, allow(P.DNS_WRITE)],
    forward: ForwardDep,
) -> Accepted:
    await forward.get(ctx, SERVICE, "zones.get", domain=domain)
    return await forward.command(
        ctx,
        DeleteRecord(domain=domain, record_id=record_id),
        topic=DNS_COMMANDS,
        key=domain,
        action="dns.record.delete",
        entity="zone",
        entity_id=domain,
    )
