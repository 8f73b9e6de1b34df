"""Provisioning figures: create-account jobs end to end — commands over
Kafka, jobs in the database, every WHM call against simulated servers (each
its own process) — at 200 ms per WHM call, and with no latency at all."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from bench.support import Report, broker, fresh_database
from hospeda.contracts import Actor, Envelope, encode, new_id
from hospeda.contracts.provisioning import CreateAccount
from hospeda.contracts.topics import PROVISIONING_COMMANDS
from hospeda.devstack.servers import free_port, wait_for_port
from hospeda.provisioning.app import create_app
from hospeda.provisioning.config import ProvisioningSettings, WhmServerSettings
from hospeda.provisioning.models import HostedService
from hospeda.provisioning.simulator import SimulatorControl
from hospeda.runtime.models import Job

SERVERS = 2
PER_SERVER = 50  # jobs at once on one WHM server (its concurrency limit)


def _simulator(port: int, token: str, latency_ms: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hospeda.provisioning.simulator",
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
            "--autossl-seconds",
            "0",
        ],
        env={**os.environ, "WHM_SIMULATOR_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _run(
    admin_url: str | None, tmp: Path, *, count: int, latency_ms: float
) -> dict[str, Any]:
    token = new_id().hex
    ports = [free_port() for _ in range(SERVERS)]
    simulators = [_simulator(port, token, latency_ms) for port in ports]
    try:
        for port, process in zip(ports, simulators, strict=True):
            await asyncio.to_thread(wait_for_port, "127.0.0.1", port, timeout=30, process=process)
        async with broker(tmp) as bootstrap, fresh_database(admin_url, tmp, "prov") as url:
            settings = ProvisioningSettings(
                DATABASE_URL=url,
                KAFKA_BOOTSTRAP_SERVERS=bootstrap,
                HOSPEDA_ENV="test",
                HOSPEDA_LOG_LEVEL="WARNING",
                HOSPEDA_LOG_JSON=False,
                HOSPEDA_KAFKA_SESSION_TIMEOUT_MS=2000,
                whm_servers=tuple(
                    WhmServerSettings(
                        name=f"whm{i + 1}",
                        url=f"http://127.0.0.1:{port}",
                        token=SecretStr(token),
                        packages=("default",),
                        max_accounts=count,
                        concurrency=PER_SERVER,
                    )
                    for i, port in enumerate(ports)
                ),
                job_concurrency=SERVERS * PER_SERVER,
                job_poll_interval_s=0.05,
                autossl_poll_s=0.05,
                retry_base_delay_s=1,
            )
            app = create_app(settings)
            await app.runtime.start()
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
            await producer.start()
            company, billing = new_id(), Actor.system("billing")
            commands = [
                CreateAccount(
                    service_id=new_id(),
                    domain=f"cliente{i:05d}.com.br",
                    plan_code="basico",
                    whm_package="default",
                    contact_email="dono@exemplo.com.br",
                )
                for i in range(count)
            ]
            peak_running = 0
            started = time.perf_counter()
            sends = [
                await producer.send(
                    PROVISIONING_COMMANDS.name,
                    encode(Envelope.of(c, actor=billing, company_id=company)),
                    key=str(c.service_id).encode(),
                )
                for c in commands
            ]
            await asyncio.gather(*sends)
            while True:
                async with app.db.transaction() as session:
                    active = (
                        await session.execute(
                            sa.select(sa.func.count()).where(HostedService.state == "active")  # type: ignore[arg-type]
                        )
                    ).scalar_one()
                    running = (
                        await session.execute(
                            sa.select(sa.func.count()).where(Job.state == "running")  # type: ignore[arg-type]
                        )
                    ).scalar_one()
                peak_running = max(peak_running, int(running))
                if active >= count:
                    break
                await asyncio.sleep(0.1)
            seconds = time.perf_counter() - started
            async with app.db.transaction() as session:
                failed = (
                    await session.execute(sa.select(sa.func.count()).where(Job.state == "failed"))  # type: ignore[arg-type]
                ).scalar_one()
                attempts = (
                    await session.execute(sa.select(sa.func.sum(Job.attempts)))
                ).scalar_one()
            states = [await SimulatorControl(f"http://127.0.0.1:{p}").state() for p in ports]
            await producer.stop()
            await app.runtime.stop()
            return {
                "seconds": seconds,
                "peak_running": peak_running,
                "peak_inflight_per_server": max(s["peak_inflight"] for s in states),
                "accounts": sum(len(s["accounts"]) for s in states),
                "whm_calls": sum(sum(s["calls"].values()) for s in states),
                "failed": failed,
                "attempts": attempts,
            }
    finally:
        for process in simulators:
            process.terminate()
            process.wait(10)


async def create_accounts(report: Report, admin_url: str | None, tmp: Path) -> None:
    """1,000 create-account jobs at 200 ms per WHM call, then as many with no latency."""
    for latency_ms, count in ((200.0, 1000), (0.0, 1000)):
        figures = await _run(admin_url, tmp, count=count, latency_ms=latency_ms)
        assert figures["accounts"] == count and figures["failed"] == 0, figures
        calls_per_job = figures["whm_calls"] / count
        details = {
            "jobs": count,
            "servers": SERVERS,
            "limit_per_server": PER_SERVER,
            "peak_running_jobs": figures["peak_running"],
            "peak_inflight_calls_per_server": figures["peak_inflight_per_server"],
            "whm_calls_per_job": round(calls_per_job, 1),
            "attempts": figures["attempts"],
        }
        label = f"{count:,} create-account jobs, {latency_ms:.0f} ms per WHM call"
        report.add("provisioning", f"{label}: total", figures["seconds"], "s", **details)
        report.add(
            "provisioning", f"{label}: throughput", count / figures["seconds"], "jobs/s", **details
        )
        report.add(
            "provisioning",
            f"{label}: jobs in flight (limit {SERVERS}×{PER_SERVER})",
            figures["peak_running"],
            "jobs",
            **details,
        )
