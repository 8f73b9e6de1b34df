"""What the dns service consumes: message in → one service call."""

from __future__ import annotations

from typing import Any

from hospeda.contracts import Envelope
from hospeda.contracts.dns import (
    CheckDelegation,
    CreateRecord,
    CreateZone,
    DeleteRecord,
    DeleteZone,
    UpdateRecord,
)
from hospeda.contracts.provisioning import ServiceActivated, ServiceTerminated
from hospeda.contracts.topics import DNS_COMMANDS, NOTIFY_COMMANDS, PROVISIONING_SERVICE
from hospeda.dns.service import DnsService
from hospeda.runtime.jobs import JobEngine
from hospeda.runtime.jobs_api import expose_jobs
from hospeda.runtime.messaging import MessageContext, MessageRouter, QueryContext
from hospeda.runtime.probe import forward_probes


def build_router(
    service: DnsService, engine: JobEngine, router: MessageRouter | None = None
) -> MessageRouter:
    router = router or MessageRouter("dns")
    forward_probes(router, listen=DNS_COMMANDS, forward_to=NOTIFY_COMMANDS)
    expose_jobs(router, engine, commands=DNS_COMMANDS)

    @router.on(PROVISIONING_SERVICE, ServiceActivated)
    async def service_activated(message: Envelope[Any], ctx: MessageContext) -> None:
        event: ServiceActivated = message.payload
        await service.request_zone(
            ctx, domain=event.domain, server_ip=event.server_ip, service_id=event.service_id
        )

    @router.on(PROVISIONING_SERVICE, ServiceTerminated)
    async def service_terminated(message: Envelope[Any], ctx: MessageContext) -> None:
        event: ServiceTerminated = message.payload
        await service.service_terminated(ctx, service_id=event.service_id, domain=event.domain)

    @router.on(DNS_COMMANDS, CreateZone)
    async def create_zone(message: Envelope[Any], ctx: MessageContext) -> None:
        command: CreateZone = message.payload
        await service.request_zone(
            ctx, domain=command.domain, server_ip=command.server_ip, service_id=command.service_id
        )

    @router.on(DNS_COMMANDS, DeleteZone)
    async def delete_zone(message: Envelope[Any], ctx: MessageContext) -> None:
        await service.delete_zone(ctx, domain=message.payload.domain)

    @router.on(DNS_COMMANDS, CreateRecord, UpdateRecord, DeleteRecord)
    async def change_record(message: Envelope[Any], ctx: MessageContext) -> None:
        await service.change_record(ctx, message.payload)

    @router.on(DNS_COMMANDS, CheckDelegation)
    async def check_delegation(message: Envelope[Any], ctx: MessageContext) -> None:
        await service.check_delegation(ctx, domain=message.payload.domain)

    @router.query("zones.list")
    async def zones_list(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        return await service.list_zones(params, ctx)

    @router.query("zones.get")
    async def zones_get(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        return await service.get_zone(params, ctx)

    @router.query("records.list")
    async def records_list(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        return await service.list_records(params, ctx)

    return router
