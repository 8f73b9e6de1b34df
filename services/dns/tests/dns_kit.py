"""Test kit of the dns service: the Cloudflare simulator and the DNS world as
real servers (subprocesses), the service itself started in-process on the
real broker, database and Redis, and helpers to talk to all of them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hospeda.contracts import Actor, ActorKind, Envelope, Payload, Topic, decode
from hospeda.contracts.provisioning import ServiceActivated, ServiceTerminated
from hospeda.contracts.queries import Query
from hospeda.contracts.topics import DNS_COMMANDS, DNS_ZONE, PROVISIONING_SERVICE
from hospeda.devstack.servers import free_port, wait_for_port
from hospeda.devstack.testing import eventually
from hospeda.dns.app import create_runtime
from hospeda.dns.config import DnsSettings
from hospeda.dns.simulator.nameserver import ADDRESSES, ROOT, default_world, free_port_on
from hospeda.runtime.broker import publish
from hospeda.runtime.clock import Clock
from hospeda.runtime.db import Database
from hospeda.runtime.messaging import QueryContext
from hospeda.runtime.service import ServiceRuntime

IPV6_LOOPBACK = "::1"  # the one IPv6 address every test machine has: an IPv6-only nameserver
TOKEN = "dev-cloudflare-token"
ACCOUNT = "hospeda-test-account"
CUSTOMER = Actor(kind=ActorKind.USER, id="user-1")
PROVISIONING = Actor.system("provisioning")
PROVIDER_NS = ("ns1.hospeda.test", "ns2.hospeda.test")
OTHER_NS = ("ns1.other-host.test", "ns2.other-host.test")


# --- the simulators as real servers --------------------------------------------------------


def _start(args: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_port("127.0.0.1", port, timeout=30, process=process)
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class CloudflareSim:
    """The Cloudflare API simulator and its control endpoint."""

    port: int

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/client/v4"

    async def _control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=10) as c:
            response = await c.request(method, path, json=body)
            response.raise_for_status()
            return response.json()

    async def reset(self, **config: Any) -> None:
        await self._control("POST", "/_sim/reset", config)

    async def configure(self, **config: Any) -> None:
        await self._control("POST", "/_sim/config", config)

    async def fault(self, **fault: Any) -> None:
        await self._control("POST", "/_sim/faults", fault)

    async def block(self, seconds: float) -> None:
        await self._control("POST", "/_sim/block", {"seconds": seconds})

    async def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._control("GET", "/_sim/stats")
        return result

    async def zones(self) -> list[dict[str, Any]]:
        state = await self._control("GET", "/_sim/state")
        return list(state["zones"])

    async def zone(self, name: str) -> dict[str, Any] | None:
        return next((z for z in await self.zones() if z["name"] == name), None)


@dataclass
class DnsWorld:
    """The local authoritative DNS world and its control endpoint."""

    port: int
    control_port: int

    async def _control(self, method: str, path: str, body: Any = None) -> Any:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.control_port}", timeout=10
        ) as c:
            response = await c.request(method, path, json=body)
            response.raise_for_status()
            return response.json()

    async def reset(self) -> None:
        await self._control("PUT", "/world", default_world())

    async def load(self, spec: dict[str, Any]) -> None:
        """Replace the world (servers listen on any new address at once)."""
        await self._control("PUT", "/world", spec)

    async def delegate(self, domain: str, nameservers: tuple[str, ...]) -> None:
        await self._control(
            "POST", "/delegate", {"domain": domain, "nameservers": list(nameservers)}
        )

    async def undelegate(self, domain: str) -> None:
        await self._control("POST", "/undelegate", {"domain": domain})

    async def server(self, name: str, **changes: Any) -> None:
        await self._control("PATCH", f"/servers/{name}", changes)

    async def rrset(self, zone: str, name: str, rtype: str, values: list[str]) -> None:
        await self._control(
            "PUT", "/rrsets", {"zone": zone, "name": name, "type": rtype, "values": values}
        )


@pytest.fixture(scope="session")
def _cloudflare_process() -> Iterator[CloudflareSim]:
    port = free_port()
    process = _start(["hospeda.dns.simulator.cloudflare", "--port", str(port)], port)
    try:
        yield CloudflareSim(port)
    finally:
        _stop(process)


@pytest.fixture
async def cloudflare(_cloudflare_process: CloudflareSim) -> CloudflareSim:
    await _cloudflare_process.reset()
    return _cloudflare_process


@pytest.fixture(scope="session")
def _world_process() -> Iterator[DnsWorld]:
    port, control = free_port_on([*ADDRESSES, IPV6_LOOPBACK]), free_port()
    process = _start(
        [
            "hospeda.dns.simulator.nameserver",
            "--port",
            str(port),
            "--control-port",
            str(control),
        ],
        control,
    )
    try:
        yield DnsWorld(port, control)
    finally:
        _stop(process)


@pytest.fixture
async def world(_world_process: DnsWorld) -> DnsWorld:
    await _world_process.reset()
    return _world_process


# --- the service ---------------------------------------------------------------------------


def dns_settings(
    *,
    database_url: str,
    kafka_bootstrap: str,
    redis_url: str,
    cloudflare: CloudflareSim,
    world: DnsWorld,
    **overrides: Any,
) -> DnsSettings:
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "HOSPEDA_ENV": "test",
        "HOSPEDA_LOG_JSON": False,
        "HOSPEDA_KAFKA_SESSION_TIMEOUT_MS": 2000,
        "HOSPEDA_TOPIC_PARTITIONS": 2,
        "cloudflare_api_token": TOKEN,
        "cloudflare_account_id": ACCOUNT,
        "cloudflare_base_url": cloudflare.api_url,
        "root_servers": [ROOT],
        "resolver_port": world.port,
        "resolver_timeout_s": 0.3,
        "delegation_retry_base_s": 60,
        "delegation_retry_max_s": 3600,
        "recheck_tick_s": 0.1,
        "job_retry_base_s": 0.1,
    }
    values.update(overrides)
    return DnsSettings(**values)


@dataclass
class Dns:
    """A running dns service plus what tests need around it."""

    runtime: ServiceRuntime
    producer: AIOKafkaProducer
    bootstrap: str
    company_id: UUID = field(default_factory=uuid4)

    @property
    def db(self) -> Database:
        return self.runtime.db

    async def send(
        self,
        payload: Payload,
        *,
        topic: Topic = DNS_COMMANDS,
        key: Any = None,
        company_id: UUID | None = None,
        actor: Actor = CUSTOMER,
    ) -> Envelope[Any]:
        envelope = Envelope.of(
            payload, actor=actor, company_id=company_id or self.company_id, ip="203.0.113.7"
        )
        await publish(self.producer, envelope, topic=topic, key=key)
        return envelope

    async def activate(
        self,
        domain: str,
        *,
        server_ip: str = "198.51.100.20",
        service_id: UUID | None = None,
        company_id: UUID | None = None,
    ) -> Envelope[Any]:
        service_id = service_id or uuid4()
        return await self.send(
            ServiceActivated(
                service_id=service_id,
                domain=domain,
                server="whm-01",
                server_ip=server_ip,
                username=domain.split(".")[0][:8],
            ),
            topic=PROVISIONING_SERVICE,
            key=service_id,
            company_id=company_id,
            actor=PROVISIONING,
        )

    async def terminate(self, service_id: UUID, domain: str | None) -> None:
        await self.send(
            ServiceTerminated(service_id=service_id, domain=domain),
            topic=PROVISIONING_SERVICE,
            key=service_id,
            actor=PROVISIONING,
        )

    async def query(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        *,
        company_id: UUID | str | None = "own",
        actor: Actor = CUSTOMER,
    ) -> Any:
        """Answer a query the way the consumer does (same handler, same session).
        ``company_id`` defaults to this test's company; None asks without one."""
        handler = self.runtime.router.queries[name]
        envelope = Envelope.of(
            Query(name=name, params=params or {}),
            actor=actor,
            company_id=self.company_id if company_id == "own" else company_id,  # type: ignore[arg-type]
        )
        async with self.db.transaction() as session:
            return await handler(dict(params or {}), QueryContext(session, envelope))

    async def zone(self, domain: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.query("zones.get", {"domain": domain})
        return result

    async def wait_zone(
        self,
        domain: str,
        check: Callable[[dict[str, Any]], bool],
        *,
        message: str,
        timeout: float = 20,
    ) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def ok() -> bool:
            try:
                seen["zone"] = await self.zone(domain)
            except Exception:
                return False
            return bool(check(seen["zone"]))

        await eventually(ok, timeout=timeout, message=f"{message} (last: {seen.get('zone')})")
        return seen["zone"]

    async def events(
        self, topic: Topic = DNS_ZONE, *, types: set[str] | None = None
    ) -> list[Envelope[Any]]:
        """Every message on ``topic`` so far (read from the broker)."""
        return [
            e for e in await read_all(self.bootstrap, topic.name) if not types or e.type in types
        ]

    async def wait_events(
        self, expect: dict[str, int], *, topic: Topic = DNS_ZONE, timeout: float = 20
    ) -> list[Envelope[Any]]:
        """Wait until ``topic`` holds at least the given number of each type."""
        found: list[Envelope[Any]] = []

        async def enough() -> bool:
            nonlocal found
            found = await self.events(topic)
            counts = {t: sum(1 for e in found if e.type == t) for t in expect}
            return all(counts[t] >= n for t, n in expect.items())

        await eventually(enough, timeout=timeout, message=f"events {expect} on {topic.name}")
        return found


async def read_all(bootstrap: str, topic: str) -> list[Envelope[Any]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    try:
        partitions = consumer.assignment()
        while not partitions:
            await asyncio.sleep(0.01)
            partitions = consumer.assignment()
        ends = await consumer.end_offsets(list(partitions))
        records: list[Any] = []
        while True:
            positions = {p: await consumer.position(p) for p in ends}
            if all(positions[p] >= end for p, end in ends.items()):
                break
            batch = await consumer.getmany(timeout_ms=200)
            for items in batch.values():
                records.extend(items)
    finally:
        await consumer.stop()
    return [decode(r.value) for r in sorted(records, key=lambda r: (r.timestamp, r.offset))]


StartDns = Callable[..., Awaitable[Dns]]


@pytest.fixture
async def start_dns(
    database_url: str,
    kafka_bootstrap: str,
    redis_url: str,
    cloudflare: CloudflareSim,
    world: DnsWorld,
) -> AsyncIterator[StartDns]:
    """``dns = await start_dns(clock=…, **settings)``: the service, running."""
    running: list[Dns] = []
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=False
    )
    await producer.start()

    async def start(*, clock: Clock | None = None, **overrides: Any) -> Dns:
        settings = dns_settings(
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            redis_url=redis_url,
            cloudflare=cloudflare,
            world=world,
            **overrides,
        )
        runtime = create_runtime(settings, clock=clock)
        await runtime.start()
        dns = Dns(runtime, producer, kafka_bootstrap)
        running.append(dns)
        return dns

    try:
        yield start
    finally:
        for dns in running:
            await dns.runtime.stop()
        await producer.stop()
