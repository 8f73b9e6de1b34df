"""Zones for new services at the Cloudflare simulator, through the real
broker, database and Redis."""

from __future__ import annotations

from collections import Counter
from uuid import uuid4

from dns_kit import PROVIDER_NS, CloudflareSim, DnsWorld, StartDns

from hospeda.contracts.dns import CreateZone
from hospeda.contracts.topics import DNS_JOB, NOTIFY_COMMANDS
from hospeda.devstack.testing import eventually

TEMPLATE = {
    ("A", "exemplo.com.br", "198.51.100.20"),
    ("A", "www.exemplo.com.br", "198.51.100.20"),
    ("A", "mail.exemplo.com.br", "198.51.100.20"),
    ("A", "ftp.exemplo.com.br", "198.51.100.20"),
    ("A", "webmail.exemplo.com.br", "198.51.100.20"),
    ("MX", "exemplo.com.br", "mail.exemplo.com.br"),
    ("TXT", "exemplo.com.br", "v=spf1 a mx ip4:198.51.100.20 ~all"),
    (
        "TXT",
        "_dmarc.exemplo.com.br",
        "v=DMARC1; p=quarantine; rua=mailto:postmaster@exemplo.com.br",
    ),
}


def _records(zone: dict) -> Counter:
    return Counter((r["type"], r["name"], r["content"]) for r in zone["records"])


async def test_a_new_service_gets_its_zone_records_and_delegation_instructions(
    start_dns: StartDns, cloudflare: CloudflareSim
) -> None:
    dns = await start_dns()
    await dns.activate("Exemplo.com.br")

    zone = await dns.wait_zone(
        "exemplo.com.br", lambda z: z["status"] == "active", message="zone active"
    )
    at_cloudflare = await cloudflare.zone("exemplo.com.br")
    assert at_cloudflare is not None and at_cloudflare["type"] == "full"
    assert _records(at_cloudflare) == Counter(TEMPLATE)
    assert next(r for r in at_cloudflare["records"] if r["type"] == "MX")["priority"] == 10
    assert zone["nameservers"] == at_cloudflare["name_servers"]
    assert zone["delegation"]["status"] == "pending"
    assert len(zone["records"]) == len(TEMPLATE)

    events = await dns.wait_events({"dns.zone.created": 1, "dns.delegation.pending": 1})
    created = next(e for e in events if e.type == "dns.zone.created")
    assert created.company_id == dns.company_id
    assert created.payload.zone_id == at_cloudflare["id"]
    assert list(created.payload.nameservers) == at_cloudflare["name_servers"]
    notes = await dns.wait_events({"notify.send": 1}, topic=NOTIFY_COMMANDS)
    note = next(e for e in notes if e.payload.template == "delegation-instructions")
    assert note.company_id == dns.company_id
    assert note.payload.recipient.company_roles == ("owner", "technical")
    assert note.payload.data["nameservers"] == "\n".join(at_cloudflare["name_servers"])
    assert note.payload.data["domain"] == "exemplo.com.br"


async def test_zone_and_records_are_created_once_when_responses_are_lost_and_messages_repeat(
    start_dns: StartDns, cloudflare: CloudflareSim
) -> None:
    # Cloudflare creates the zone and one record, but the answers are lost
    # (500 after the effect): the retries meet 1061 and 81057 and carry on.
    await cloudflare.fault(
        method="POST", path=r"^/zones$", status=500, code=10001, after_effect=True
    )
    await cloudflare.fault(
        method="POST", path=r"/dns_records$", status=502, code=10001, after_effect=True
    )
    dns = await start_dns(cloudflare_max_429_waits=1)
    service_id = uuid4()
    first = await dns.activate("exemplo.com.br", service_id=service_id)
    # the same event again (a redelivery with the same id is the inbox's job;
    # a second event with a new id is the handler's)
    await dns.activate("exemplo.com.br", service_id=service_id)

    await dns.wait_zone(
        "exemplo.com.br", lambda z: z["status"] == "active", message="zone active", timeout=60
    )
    zones = await cloudflare.zones()
    assert [z["name"] for z in zones] == ["exemplo.com.br"]
    assert _records(zones[0]) == Counter(TEMPLATE)  # each exactly once
    stats = await cloudflare.stats()
    assert stats["by_status"].get("500") == 1 and stats["by_status"].get("502") == 1
    assert stats["by_status"].get("400") == 2  # 1061 zone exists, 81057 record exists
    created = await dns.wait_events({"dns.zone.created": 1})
    jobs = await dns.events(DNS_JOB, types={"job.queued"})
    assert [j.payload.kind for j in jobs] == ["create-zone", "wait-delegation"]
    retried = await dns.events(DNS_JOB, types={"job.retry_scheduled"})
    assert len([r for r in retried if r.payload.kind == "create-zone"]) == 2
    created = [e for e in created if e.type == "dns.zone.created"]
    assert len(created) == 1 and created[0].correlation_id == first.correlation_id


async def test_the_explicit_command_creates_a_zone_and_another_company_cannot_take_it(
    start_dns: StartDns, cloudflare: CloudflareSim
) -> None:
    dns = await start_dns(own_nameservers="ns1.hospeda.test,ns2.hospeda.test")
    await dns.send(CreateZone(domain="loja.test", server_ip="2001:db8::20"), key="loja.test")
    zone = await dns.wait_zone(
        "loja.test", lambda z: z["status"] == "active", message="zone active"
    )
    assert tuple(zone["nameservers"]) == PROVIDER_NS  # our own, configured nameservers
    assert {(r["type"], r["name"]) for r in zone["records"]} >= {("AAAA", "@"), ("AAAA", "www")}

    intruder = uuid4()
    await dns.send(
        CreateZone(domain="loja.test", server_ip="203.0.113.9"),
        key="loja.test",
        company_id=intruder,
    )
    from dns_kit import read_all

    async def refused() -> bool:
        dead = await read_all(dns.bootstrap, "dns.commands.v1.dlq")
        return len(dead) == 1

    await eventually(refused, message="the intruder's command dead-lettered")
    assert len(await cloudflare.zones()) == 1
    zone = await dns.zone("loja.test")
    assert zone["records"][0]["content"] == "2001:db8::20"


async def test_terminating_the_service_removes_the_zone(
    start_dns: StartDns, cloudflare: CloudflareSim, world: DnsWorld
) -> None:
    dns = await start_dns()
    service_id = uuid4()
    await dns.activate("adeus.com.br", service_id=service_id)
    await dns.wait_zone("adeus.com.br", lambda z: z["status"] == "active", message="zone active")
    await dns.terminate(service_id, None)  # found by its service
    await dns.wait_events({"dns.zone.deleted": 1})
    assert await cloudflare.zones() == []
    zones = await dns.query("zones.list")
    assert zones == {"items": [], "next_cursor": None}


async def test_terminating_keeps_the_zone_when_configured_to(
    start_dns: StartDns, cloudflare: CloudflareSim
) -> None:
    dns = await start_dns(delete_zone_on_termination=False)
    service_id = uuid4()
    await dns.activate("fica.com.br", service_id=service_id)
    await dns.wait_zone("fica.com.br", lambda z: z["status"] == "active", message="zone active")
    await dns.terminate(service_id, "fica.com.br")
    await dns.activate("outro.com.br")  # a later message: once it is applied, so was the first
    await dns.wait_zone("outro.com.br", lambda z: z["status"] == "active", message="zone active")
    assert {z["name"] for z in await cloudflare.zones()} == {"fica.com.br", "outro.com.br"}
    assert await dns.events(types={"dns.zone.deleted"}) == []
