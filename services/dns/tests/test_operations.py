"""What operators and the gateway see: queries over Kafka, tenancy, job
failures with a clear reason."""

from __future__ import annotations

from uuid import uuid4

import pytest
from dns_kit import CloudflareSim, StartDns

from hospeda.contracts import Actor, ActorKind
from hospeda.contracts.topics import DNS_JOB
from hospeda.runtime.errors import NotFound, QueryFailed
from hospeda.runtime.rpc import QueryClient

STAFF = Actor(kind=ActorKind.STAFF, id="staff-1")


async def test_queries_over_kafka_see_only_the_askers_company(
    start_dns: StartDns, cloudflare: CloudflareSim
) -> None:
    dns = await start_dns()
    other = uuid4()
    await dns.activate("minha.com.br")
    await dns.activate("alheia.com.br", company_id=other)
    await dns.activate("segunda.com.br")
    for domain in ("minha.com.br", "segunda.com.br"):
        await dns.wait_zone(domain, lambda z: z["status"] == "active", message=f"{domain} active")
    client = QueryClient(
        bootstrap_servers=dns.bootstrap, producer=dns.producer, instance_id="test-gw", timeout=10
    )
    await client.start()
    try:
        user = Actor(kind=ActorKind.USER, id="u-1")
        first = await client.ask(
            "dns", "zones.list", {"limit": 1}, actor=user, company_id=dns.company_id
        )
        assert [z["domain"] for z in first["items"]] == ["minha.com.br"]
        second = await client.ask(
            "dns",
            "zones.list",
            {"limit": 1, "cursor": first["next_cursor"]},
            actor=user,
            company_id=dns.company_id,
        )
        assert [z["domain"] for z in second["items"]] == ["segunda.com.br"]
        assert second["next_cursor"] is None
        zone = await client.ask(
            "dns", "zones.get", {"domain": "Minha.com.br"}, actor=user, company_id=dns.company_id
        )
        assert zone["delegation"]["status"] in ("pending", "verified")
        assert len(zone["records"]) == 8 and len(zone["nameservers"]) == 2
        with pytest.raises(QueryFailed) as refused:
            await client.ask(
                "dns",
                "zones.get",
                {"domain": "alheia.com.br"},
                actor=user,
                company_id=dns.company_id,
            )
        assert refused.value.code == "not_found"
        jobs = await client.ask("dns", "jobs.list", {}, actor=user, company_id=dns.company_id)
        assert {j["key"] for j in jobs if j["kind"] == "create-zone"} == {
            "minha.com.br",
            "segunda.com.br",
        }
    finally:
        await client.stop()
    everything = await dns.query("zones.list", {}, company_id=None, actor=STAFF)
    assert len(everything["items"]) >= 2
    with pytest.raises(NotFound):
        await dns.query("zones.list", {}, company_id=None, actor=Actor(kind=ActorKind.USER, id="u"))


async def test_a_refused_token_fails_the_job_with_a_clear_reason(
    start_dns: StartDns, cloudflare: CloudflareSim
) -> None:
    dns = await start_dns(cloudflare_api_token="not-the-token")
    await dns.activate("negado.com.br")
    zone = await dns.wait_zone(
        "negado.com.br", lambda z: z["status"] == "failed", message="zone failed"
    )
    assert zone["delegation"]["status"] == "not_started"
    events = await dns.wait_events({"job.failed": 1}, topic=DNS_JOB)
    failed = next(e for e in events if e.type == "job.failed")
    assert failed.payload.attempts == 1  # permanent: no retries
    assert "Cloudflare recusou as credenciais" in failed.payload.error
    assert "9109: Invalid access token" in failed.payload.error
    assert "not-the-token" not in failed.payload.error
    assert await cloudflare.zones() == []


def test_production_refuses_the_simulator_token_and_plain_http() -> None:
    from pydantic import ValidationError

    from hospeda.dns.config import DnsSettings

    with pytest.raises(ValidationError) as refused:
        DnsSettings(
            HOSPEDA_ENV="production",
            DATABASE_URL="postgresql://db/dns",
            HOSPEDA_TOPIC_REPLICATION=3,
            cloudflare_base_url="http://127.0.0.1:8787/client/v4",
        )
    assert "DNS_CLOUDFLARE_API_TOKEN must be a real Cloudflare API token" in str(refused.value)
    assert "DNS_CLOUDFLARE_BASE_URL must use https" in str(refused.value)
    settings = DnsSettings(
        HOSPEDA_ENV="production",
        DATABASE_URL="postgresql://db/dns",
        HOSPEDA_TOPIC_REPLICATION=3,
        cloudflare_api_token="a-real-looking-token-0123456789abcdef",
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_SASL_USERNAME="hospeda-dns",
        KAFKA_SASL_PASSWORD="Zq8vN3k0uR2y7Lw1Pf5sXc9bTg4hJm6d",
        REDIS_URL="redis://hospeda-dns:Zq8vN3k0uR2y7Lw1Pf5sXc9bTg4hJm6d@redis:6379/0",
        own_nameservers="NS1.Hospeda.com.br., ns2.hospeda.com.br",
    )
    assert settings.cloudflare_base_url is None  # the real API
    assert settings.own_nameservers == ["ns1.hospeda.com.br", "ns2.hospeda.com.br"]
    assert "0123456789abcdef" not in repr(settings)
