"""DNS figures: delegation checks per second against the local DNS world.

The world (a root, the ``br.`` registry and the provider's two nameservers,
over real UDP on loopback addresses) runs in its own process, as in
production, so the checker and the servers do not share a CPU core more than
they must."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from bench.support import Report, Stopwatch, percentile
from hospeda.devstack.servers import free_port, wait_for_port
from hospeda.dns.adapters.resolver import DelegationChecker
from hospeda.dns.simulator.nameserver import (
    ADDRESSES,
    PROVIDER_NS,
    ROOT,
    default_world,
    free_port_on,
    minimal_zone,
)

DOMAINS = 10_000
CONCURRENCY = 200


def world_with(domains: list[str]) -> dict:
    world = default_world()
    nameservers = [f"{ns}." for ns in PROVIDER_NS]
    world["zones"]["br."] += "".join(
        f"{d}. 3600 IN NS {ns}\n" for d in domains for ns in nameservers
    )
    for d in domains:
        world["zones"][f"{d}."] = minimal_zone(f"{d}.", nameservers)
    for server in world["servers"]:
        if server["name"] in PROVIDER_NS:
            server["zones"] = [*server["zones"], *(f"{d}." for d in domains)]
    return world


async def delegation_checks(report: Report, admin_url: str | None, tmp: Path) -> None:
    """Check 10,000 delegated domains: NS at the parent plus an authoritative
    SOA from each of the two nameservers — three UDP round trips each once the
    root's referral to ``br.`` is cached."""
    domains = [f"cliente{i:05d}.com.br" for i in range(DOMAINS)]
    spec = tmp / "world.json"
    spec.write_text(json.dumps(world_with(domains)))
    port, control = free_port_on(ADDRESSES), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hospeda.dns.simulator.nameserver",
            "--port",
            str(port),
            "--control-port",
            str(control),
            "--world",
            str(spec),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        await asyncio.to_thread(wait_for_port, "127.0.0.1", control, timeout=120, process=process)
        checker = DelegationChecker(root_servers=[ROOT], port=port, timeout=2.0, tries=3)
        expected = tuple(PROVIDER_NS)
        gate = asyncio.Semaphore(CONCURRENCY)
        latencies: list[float] = []
        verified = 0

        async def one(domain: str) -> None:
            nonlocal verified
            async with gate:
                started = time.perf_counter()
                check = await checker.check(domain, expected)
                latencies.append(time.perf_counter() - started)
                verified += check.verified

        with Stopwatch() as watch:
            await asyncio.gather(*(one(d) for d in domains))
        report.add(
            "dns",
            f"delegation checks, {DOMAINS:,} domains, {CONCURRENCY} at once",
            DOMAINS / watch.seconds,
            "checks/s",
            verified=verified,
            queries=checker.queries,
            seconds=round(watch.seconds, 2),
        )
        report.add(
            "dns",
            "delegation check latency p50",
            percentile(latencies, 50) * 1000,
            "ms",
        )
        report.add(
            "dns",
            "delegation check latency p99",
            percentile(latencies, 99) * 1000,
            "ms",
        )
        if verified != DOMAINS:
            print(f"  warning: only {verified} of {DOMAINS} domains verified", flush=True)
    finally:
        process.terminate()
        process.wait(10)
