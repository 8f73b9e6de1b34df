"""What the provisioning service consumes: message in → one service call."""

from __future__ import annotations

from typing import Any

from hospeda.contracts import Envelope
from hospeda.contracts.provisioning import CreateAccount
from hospeda.contracts.topics import DNS_COMMANDS, PROVISIONING_COMMANDS
from hospeda.provisioning import queries, service
from hospeda.runtime.jobs import JobEngine
from hospeda.runtime.jobs_api import expose_jobs
from hospeda.runtime.messaging import MessageContext, MessageRouter, QueryContext
from hospeda.runtime.probe import forward_probes


def build_router(engine: JobEngine, router: MessageRouter | None = None) -> MessageRouter:
    """Provisioning's handlers, on ``router`` (a new one by default)."""
    router = router or MessageRouter("provisioning")
    forward_probes(router, listen=PROVISIONING_COMMANDS, forward_to=DNS_COMMANDS)
    expose_jobs(router, engine, commands=PROVISIONING_COMMANDS)

    @router.on(PROVISIONING_COMMANDS, CreateAccount)
    async def create_account(message: Envelope[Any], ctx: MessageContext) -> None:
        await service.accept_create(ctx, engine)

    for command, kind in service.JOB_KINDS.items():
        if command is CreateAccount:
            continue

        async def queue(message: Envelope[Any], ctx: MessageContext, kind: str = kind) -> None:
            await service.accept(ctx, engine, kind)

        router.on(PROVISIONING_COMMANDS, command)(queue)

    @router.query("services.list")
    async def list_services(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        return await queries.list_services(params, ctx)

    @router.query("services.get")
    async def get_service(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        return await queries.get_service(params, ctx, engine)

    @router.query("servers.list")
    async def list_servers(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        return await queries.list_servers(params, ctx)

    return router
