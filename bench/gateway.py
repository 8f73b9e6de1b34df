"""Gateway figures: an authenticated GET (session cookie; API token) and a page
of the web app at 50 concurrent clients, side by side with a bare FastAPI
endpoint in the same run.

Both servers run as their own uvicorn process (one worker, uvloop, httptools);
the load comes from this process (httpx), so on a small machine client and
server share the CPUs — compare the two rows, not the absolute numbers with
another machine.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench.support import Report, broker, fresh_database, percentile
from hospeda.devstack.servers import free_port, start_redis, wait_for_port
from hospeda.runtime.db import Database

CLIENTS = 50
WARMUP_S = 2.0
DURATION_S = 10.0
PASSWORD = "bench-senha-bem-comprida"
ROOT = Path(__file__).resolve().parents[1]


async def gateway(report: Report, admin_url: str | None, tmp: Path) -> None:
    redis = await asyncio.to_thread(start_redis, workdir=tmp / "redis")
    async with broker(tmp) as bootstrap, fresh_database(admin_url, tmp, "gateway") as url:
        gateway_port, bare_port = free_port(), free_port()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "REDIS_URL": redis.url,
            "DATABASE_URL": url,
            "HOSPEDA_ENV": "test",
            "HOSPEDA_LOG_LEVEL": "WARNING",
            "HOSPEDA_LOG_JSON": "false",
            "HOSPEDA_TOPIC_PARTITIONS": "1",
            "GATEWAY_PORT": str(gateway_port),
            "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
        }
        servers = [
            subprocess.Popen([sys.executable, "-m", "hospeda.gateway"], cwd=ROOT, env=env),
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "bench.procs.bare_api:app",
                    "--port",
                    str(bare_port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                cwd=ROOT,
                env=env,
            ),
        ]
        try:
            for port, server in ((gateway_port, servers[0]), (bare_port, servers[1])):
                await asyncio.to_thread(
                    wait_for_port, "127.0.0.1", port, timeout=60, process=server
                )
            base = f"http://127.0.0.1:{gateway_port}"
            cookie, token = await _sign_in(base, url)
            gateway_pid, bare_pid = servers[0].pid, servers[1].pid
            runs = [
                (
                    "bare FastAPI GET /company (no auth)",
                    f"http://127.0.0.1:{bare_port}/company",
                    {},
                    bare_pid,
                ),
                (
                    "gateway GET /api/v1/company, session cookie",
                    f"{base}/api/v1/company",
                    {"Cookie": cookie},
                    gateway_pid,
                ),
                (
                    "gateway GET /api/v1/company, API token",
                    f"{base}/api/v1/company",
                    {"Authorization": f"Bearer {token}"},
                    gateway_pid,
                ),
                (  # a page of the web app: the person, members and invitations, rendered
                    "web app page GET /app/empresa, session cookie",
                    f"{base}/app/empresa",
                    {"Cookie": cookie},
                    gateway_pid,
                ),
            ]
            results = {}
            for label, target, headers, pid in runs:
                before = _cpu_seconds(pid)
                loaded = await _load(target, headers)
                used = _cpu_seconds(pid) - before
                results[label] = (*loaded[:4], used * 1e6 / max(loaded[4], 1))
            bare = results[runs[0][0]]
            for label, (rate, p50, p99, errors, cpu_us) in results.items():
                details = {"clients": CLIENTS, "seconds": DURATION_S, "errors": errors}
                report.add("gateway", f"{label}: throughput", rate, "req/s", **details)
                report.add("gateway", f"{label}: p50", p50, "ms", **details)
                report.add("gateway", f"{label}: p99", p99, "ms", **details)
                # the server's own CPU per answer: steadier than req/s on a shared machine
                report.add("gateway", f"{label}: server CPU per request", cpu_us, "µs", **details)
            for label, *_ in runs[1:]:
                rate, p50, _, _, cpu_us = results[label]
                report.add("gateway", f"{label}: bare req/s ÷ these req/s", bare[0] / rate, "x")
                report.add("gateway", f"{label}: these p50 ÷ bare p50", p50 / bare[1], "x")
                report.add("gateway", f"{label}: CPU per request ÷ bare's", cpu_us / bare[4], "x")
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                try:
                    server.wait(15)
                except subprocess.TimeoutExpired:
                    server.kill()
            redis.stop()


async def _sign_in(base: str, database_url: str) -> tuple[str, str]:
    """An owner with a confirmed e-mail, signed in: its session cookie and an API token."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        signed = await client.post(
            "/api/v1/auth/signup",
            json={
                "company_name": "Padaria Pão Quente",
                "name": "Bench",
                "email": "bench@exemplo.com.br",
                "password": PASSWORD,
            },
        )
        signed.raise_for_status()  # 202: the address is confirmed below
        db = Database(database_url)
        try:  # the bench reads no e-mail: confirm the address directly
            async with db.transaction() as session:
                await session.execute(
                    sa.text("UPDATE user_account SET email_verified_at = created_at")
                )
        finally:
            await db.dispose()
        login = await client.post(
            "/api/v1/auth/login", json={"email": "bench@exemplo.com.br", "password": PASSWORD}
        )
        login.raise_for_status()
        cookies = [c.split(";")[0] for c in login.headers.get_list("set-cookie")]
        cookie = "; ".join(cookies)
        csrf = login.json()["csrf_token"]
        token = await client.post(
            "/api/v1/company/tokens",
            json={"name": "bench", "permissions": ["company:read"]},
            headers={"Cookie": cookie, "X-CSRF-Token": csrf},
        )
        token.raise_for_status()
        return cookie, token.json()["token"]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(url: str, headers: dict[str, str]) -> tuple[float, float, float, int, int]:
    """``CLIENTS`` keep-alive connections GET ``url`` back to back: req/s, p50
    ms, p99 ms, non-200 answers, and every answer (warm-up included). A minimal
    HTTP/1.1 client, so that the load generator costs as little CPU as possible."""
    parsed = httpx.URL(url)
    request = (
        f"GET {parsed.raw_path.decode()} HTTP/1.1\r\nHost: {parsed.host}:{parsed.port}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "\r\n"
    ).encode()
    samples: list[float] = []
    errors = answered = 0
    loop = asyncio.get_running_loop()
    measure_from = loop.time() + WARMUP_S
    stop_at = measure_from + DURATION_S

    async def client() -> None:
        nonlocal errors, answered
        reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
        try:
            while (now := loop.time()) < stop_at:
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                answered += 1
                elapsed = (time.perf_counter() - started) * 1000
                if now >= measure_from:
                    if head.startswith(b"HTTP/1.1 200"):
                        samples.append(elapsed)
                    else:
                        errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    rate = len(samples) / DURATION_S
    return rate, percentile(samples, 50), percentile(samples, 99), errors, answered
