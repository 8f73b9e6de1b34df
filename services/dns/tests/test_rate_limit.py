"""Cloudflare's rate limit (1,200 requests per 5 minutes per token), scaled
down in time so a burst of 500 new zones crosses many windows."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from dns_kit import CloudflareSim, StartDns

from hospeda.contracts.dns import CreateZone
from hospeda.devstack.testing import eventually
from hospeda.dns.models import Zone

# The simulator blocks the token for a whole window once it sees more than
# LIMIT requests in WINDOW seconds (as Cloudflare does). Time is compressed
# 150 times (2 s for Cloudflare's 5 minutes), so the service keeps its margin
# in time as well as in count: a request may wait on a busy event loop between
# taking its slot and reaching the simulator. Unthrottled, the service sends
# well over LIMIT per WINDOW (with DNS_TEST_SERVICE_RATE_LIMIT=100000 this
# test fails with 429s).
LIMIT = 200
WINDOW = 2.0
SERVICE_LIMIT = int(os.environ.get("DNS_TEST_SERVICE_RATE_LIMIT", "180"))
SERVICE_WINDOW = 2.4
ZONES = 500
REQUESTS_PER_ZONE = 9  # the zone and its 8 default records


@pytest.mark.slow
async def test_a_burst_of_500_new_zones_stays_inside_the_rate_limit(
    start_dns: StartDns, cloudflare: CloudflareSim
) -> None:
    await cloudflare.configure(rate_limit=LIMIT, rate_window_s=WINDOW)
    dns = await start_dns(
        cloudflare_rate_limit=SERVICE_LIMIT,
        cloudflare_rate_window_s=SERVICE_WINDOW,
        cloudflare_concurrency=32,
        worker_concurrency=48,
    )
    for i in range(ZONES):
        domain = f"loja{i:03d}.com.br"
        await dns.send(CreateZone(domain=domain, server_ip="198.51.100.20"), key=domain)

    async def all_active() -> bool:
        async with dns.db.transaction() as session:
            count = await session.scalar(
                sa.select(sa.func.count()).select_from(Zone).where(Zone.status == "active")  # type: ignore[arg-type]
            )
        return count == ZONES

    await eventually(all_active, timeout=280, interval=0.5, message=f"{ZONES} zones active")
    stats = await cloudflare.stats()
    assert stats["rate_limited"] == 0, stats
    assert stats["max_in_window"] <= LIMIT, stats
    assert stats["zones"] == ZONES and stats["records"] == ZONES * (REQUESTS_PER_ZONE - 1)
    assert stats["requests"] == ZONES * REQUESTS_PER_ZONE  # nothing sent twice


async def test_a_429_pauses_every_request_for_its_retry_after(
    start_dns: StartDns, cloudflare: CloudflareSim
) -> None:
    dns = await start_dns()
    await cloudflare.block(2)  # someone else used up the token's budget
    await dns.send(
        CreateZone(domain="espera.com.br", server_ip="198.51.100.20"), key="espera.com.br"
    )
    await dns.send(CreateZone(domain="calma.com.br", server_ip="198.51.100.20"), key="calma.com.br")
    await dns.wait_zone("espera.com.br", lambda z: z["status"] == "active", message="zone active")
    await dns.wait_zone("calma.com.br", lambda z: z["status"] == "active", message="zone active")
    stats = await cloudflare.stats()
    # each of the two jobs met the block at most once: after the first 429
    # nobody asked again before Retry-After had passed
    assert 1 <= stats["rate_limited"] <= 2, stats
    assert stats["zones"] == 2
