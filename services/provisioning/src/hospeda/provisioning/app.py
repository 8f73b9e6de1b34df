"""Composition root of the provisioning service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from hospeda.contracts.topics import PROVISIONING_JOB
from hospeda.provisioning.config import ProvisioningSettings
from hospeda.provisioning.handlers import build_router
from hospeda.provisioning.inventory import Inventory
from hospeda.provisioning.service import server_target
from hospeda.provisioning.workflows import Workflows
from hospeda.runtime.clock import Clock
from hospeda.runtime.db import Database
from hospeda.runtime.jobs import JobEngine
from hospeda.runtime.messaging import MessageRouter
from hospeda.runtime.migrate import service_migrations
from hospeda.runtime.service import ServiceRuntime


@dataclass
class Provisioning:
    """The service's parts, for the process entry point and for tests."""

    settings: ProvisioningSettings
    runtime: ServiceRuntime
    engine: JobEngine
    inventory: Inventory

    @property
    def db(self) -> Database:
        return self.runtime.db


def create_app(
    settings: ProvisioningSettings | None = None, *, clock: Clock | None = None
) -> Provisioning:
    settings = settings or ProvisioningSettings()
    # handlers need the engine, the engine needs the runtime's database:
    # the runtime gets the router empty, and it is filled in below
    router = MessageRouter("provisioning")
    runtime = ServiceRuntime(
        settings, router=router, migrations=[service_migrations("provisioning")]
    )
    engine = JobEngine(runtime.db, service="provisioning", job_topic=PROVISIONING_JOB, clock=clock)
    inventory = Inventory(runtime.db, settings)
    Workflows(engine, inventory, settings)
    build_router(engine, router)

    async def start() -> None:
        # every server in the inventory, configured now or before, keeps its
        # concurrency limit across all workers
        await inventory.seed()
        for server, limit in inventory.limits.items():
            engine.limit_target(server_target(server), limit)

    runtime.on_start(start)
    runtime.on_stop(inventory.close)
    runtime.jobs(
        engine,
        concurrency=settings.job_concurrency,
        poll_interval=settings.job_poll_interval_s,
        lease=timedelta(seconds=settings.job_lease_s),
    )
    return Provisioning(settings, runtime, engine, inventory)


def create_runtime(settings: ProvisioningSettings | None = None) -> ServiceRuntime:
    return create_app(settings).runtime
