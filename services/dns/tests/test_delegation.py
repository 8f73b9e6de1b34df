"""Delegation checks over real UDP/TCP against the local DNS world."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from dns_kit import IPV6_LOOPBACK, OTHER_NS, PROVIDER_NS, DnsWorld, StartDns
from pydantic import ValidationError

from hospeda.contracts.dns import CheckDelegation
from hospeda.contracts.topics import NOTIFY_COMMANDS
from hospeda.dns.adapters.resolver import DelegationChecker
from hospeda.dns.config import DnsSettings
from hospeda.dns.simulator.nameserver import ROOT, default_world, minimal_zone
from hospeda.runtime.clock import ManualClock

OWN = {"own_nameservers": ",".join(PROVIDER_NS)}


def checker(world: DnsWorld) -> DelegationChecker:
    return DelegationChecker(root_servers=[ROOT], port=world.port, timeout=0.3)


async def test_verified_when_the_parent_delegates_to_nameservers_that_answer(
    world: DnsWorld,
) -> None:
    await world.delegate("exemplo.com.br", PROVIDER_NS)
    check = await checker(world).check("exemplo.com.br", PROVIDER_NS)
    assert check.verified
    assert check.found == PROVIDER_NS


async def test_not_verified_when_the_parent_points_elsewhere(world: DnsWorld) -> None:
    await world.delegate("exemplo.com.br", OTHER_NS)
    check = await checker(world).check("exemplo.com.br", PROVIDER_NS)
    assert not check.verified and not check.inconclusive
    assert check.found == OTHER_NS
    assert "a zona pai aponta para ns1.other-host.test, ns2.other-host.test" in check.problems[0]


async def test_not_verified_when_only_part_of_the_set_matches(world: DnsWorld) -> None:
    await world.delegate("exemplo.com.br", (PROVIDER_NS[0], OTHER_NS[0]))
    check = await checker(world).check("exemplo.com.br", PROVIDER_NS)
    assert not check.verified
    assert check.found == ("ns1.hospeda.test", "ns1.other-host.test")


async def test_not_verified_when_a_nameserver_is_lame(world: DnsWorld) -> None:
    await world.delegate("exemplo.com.br", PROVIDER_NS)
    await world.server("ns2.hospeda.test", zones=["hospeda.test."])  # no longer serves the zone
    check = await checker(world).check("exemplo.com.br", PROVIDER_NS)
    assert not check.verified and not check.inconclusive
    assert check.problems == (
        "ns2.hospeda.test (127.0.53.11) não responde com autoridade por exemplo.com.br / "
        "does not answer authoritatively for exemplo.com.br (REFUSED, no AA)",
    )
    await world.server("ns2.hospeda.test", zones=["hospeda.test.", "exemplo.com.br."], mode="no-aa")
    check = await checker(world).check("exemplo.com.br", PROVIDER_NS)
    assert not check.verified and "no AA" in check.problems[0]


async def test_a_silent_nameserver_makes_the_check_inconclusive(world: DnsWorld) -> None:
    await world.delegate("exemplo.com.br", PROVIDER_NS)
    await world.server("ns1.hospeda.test", mode="silent")
    check = await checker(world).check("exemplo.com.br", PROVIDER_NS)
    assert check.inconclusive and not check.verified


async def test_truncated_udp_answers_are_asked_again_over_tcp(world: DnsWorld) -> None:
    await world.delegate("exemplo.com.br", PROVIDER_NS)
    for server in ("a.dns.br", *PROVIDER_NS):
        await world.server(server, truncate_udp=True)
    resolver = checker(world)
    check = await resolver.check("exemplo.com.br", PROVIDER_NS)
    assert check.verified


async def test_a_new_domain_is_verified_once_the_customer_delegates_it(
    start_dns: StartDns, world: DnsWorld
) -> None:
    clock = ManualClock()
    dns = await start_dns(clock=clock, **OWN)
    await dns.activate("exemplo.com.br")
    zone = await dns.wait_zone(
        "exemplo.com.br", lambda z: z["delegation"]["checked_at"] is not None, message="first check"
    )
    assert zone["delegation"]["status"] == "pending"
    assert "nenhum NS encontrado" in zone["delegation"]["problems"][0]

    await world.delegate("exemplo.com.br", PROVIDER_NS)
    clock.advance(timedelta(minutes=2))  # the next re-check is due
    zone = await dns.wait_zone(
        "exemplo.com.br", lambda z: z["delegation"]["status"] == "verified", message="verified"
    )
    assert zone["delegation"]["found_nameservers"] == list(PROVIDER_NS)
    events = await dns.wait_events({"dns.delegation.verified": 1})
    verified = next(e for e in events if e.type == "dns.delegation.verified")
    assert verified.payload.nameservers == PROVIDER_NS and verified.company_id == dns.company_id
    notes = await dns.wait_events({"notify.send": 2}, topic=NOTIFY_COMMANDS)
    assert [n.payload.template for n in notes] == ["delegation-instructions", "delegation-verified"]


async def test_check_now_verifies_without_waiting_for_the_backoff(
    start_dns: StartDns, world: DnsWorld
) -> None:
    dns = await start_dns(clock=ManualClock(), **OWN)
    await dns.activate("agora.com.br")
    await dns.wait_zone(
        "agora.com.br", lambda z: z["delegation"]["checked_at"] is not None, message="first check"
    )
    await world.delegate("agora.com.br", PROVIDER_NS)
    await dns.send(CheckDelegation(domain="agora.com.br"), key="agora.com.br")
    await dns.wait_zone(
        "agora.com.br", lambda z: z["delegation"]["status"] == "verified", message="verified"
    )


async def test_a_domain_never_delegated_fails_after_the_waiting_period(
    start_dns: StartDns, world: DnsWorld
) -> None:
    clock = ManualClock()
    dns = await start_dns(clock=clock, recheck_interval_s=3600, **OWN)
    await dns.activate("nunca.com.br")
    await world.delegate("nunca.com.br", OTHER_NS)  # pointed at another host, never at us
    await dns.wait_zone(
        "nunca.com.br", lambda z: z["delegation"]["checked_at"] is not None, message="first check"
    )
    clock.advance(timedelta(hours=72, minutes=1))
    zone = await dns.wait_zone(
        "nunca.com.br", lambda z: z["delegation"]["status"] == "failed", message="failed"
    )
    assert zone["delegation"]["found_nameservers"] == list(OTHER_NS)
    events = await dns.wait_events({"dns.delegation.failed": 1})
    failed = next(e for e in events if e.type == "dns.delegation.failed")
    assert failed.payload.found_nameservers == OTHER_NS
    assert "não delegado em 72 horas / not delegated within 72 hours" in failed.payload.reason
    assert "ns1.other-host.test" in failed.payload.reason
    assert await dns.events(types={"dns.delegation.verified"}) == []
    # the customer is told exactly what to set, and what the domain points to today
    notes = await dns.wait_events({"notify.send": 2}, topic=NOTIFY_COMMANDS)
    told = notes[-1].payload
    assert told.template == "delegation-failed"
    assert told.data["nameservers"].split("\n") == list(PROVIDER_NS)
    assert told.data["found_nameservers"].split("\n") == list(OTHER_NS)

    # days later the customer sets our nameservers: it is still found, without a new order
    await world.delegate("nunca.com.br", PROVIDER_NS)
    clock.advance(timedelta(hours=1, seconds=1))
    await dns.wait_zone(
        "nunca.com.br", lambda z: z["delegation"]["status"] == "verified", message="verified late"
    )
    await dns.wait_events({"dns.delegation.verified": 1})


async def test_a_lost_delegation_is_detected_and_reported(
    start_dns: StartDns, world: DnsWorld
) -> None:
    clock = ManualClock()
    await world.delegate("perdido.com.br", PROVIDER_NS)
    dns = await start_dns(clock=clock, recheck_interval_s=3600, **OWN)
    await dns.activate("perdido.com.br")
    await dns.wait_zone(
        "perdido.com.br", lambda z: z["delegation"]["status"] == "verified", message="verified"
    )
    await world.delegate("perdido.com.br", OTHER_NS)  # the customer moved away
    clock.advance(timedelta(hours=1, seconds=1))
    zone = await dns.wait_zone(
        "perdido.com.br", lambda z: z["delegation"]["status"] == "lost", message="lost"
    )
    assert zone["delegation"]["found_nameservers"] == list(OTHER_NS)
    events = await dns.wait_events({"dns.delegation.lost": 1})
    lost = next(e for e in events if e.type == "dns.delegation.lost")
    assert lost.payload.found_nameservers == OTHER_NS
    assert lost.payload.expected_nameservers == PROVIDER_NS
    notes = await dns.wait_events({"notify.send": 3}, topic=NOTIFY_COMMANDS)
    assert notes[-1].payload.template == "delegation-lost"

    # and when it comes back, it is verified again
    await world.delegate("perdido.com.br", PROVIDER_NS)
    clock.advance(timedelta(hours=1, seconds=1))
    await dns.wait_events({"dns.delegation.verified": 2})


# --- IPv6, the child's own NS set, settings ------------------------------------------------


def _world_with_an_ipv6_only_host() -> dict[str, Any]:
    """The default world plus ``ns1.v6-host.test``, which has only an AAAA record."""
    spec = default_world()
    host = "ns1.v6-host.test"
    spec["servers"].append({"name": host, "address": IPV6_LOOPBACK, "zones": ["v6-host.test."]})
    spec["zones"]["v6-host.test."] = minimal_zone(
        "v6-host.test.", [host], addresses={host: IPV6_LOOPBACK}
    )
    spec["zones"]["test."] += (
        f"v6-host.test. 86400 IN NS {host}.\n{host}. 86400 IN AAAA {IPV6_LOOPBACK}\n"
    )
    return spec


async def test_a_nameserver_with_only_an_ipv6_address_is_asked_over_ipv6(
    world: DnsWorld,
) -> None:
    await world.load(_world_with_an_ipv6_only_host())
    nameservers = ("ns1.hospeda.test", "ns1.v6-host.test")
    await world.delegate("exemplo.com.br", nameservers)
    resolver = checker(world)
    assert await resolver.address_of("ns1.v6-host.test") == (IPV6_LOOPBACK,)
    check = await resolver.check("exemplo.com.br", nameservers)
    assert check.verified, check.problems
    # and when the IPv6 server stops answering with authority, it is lame (not "no address")
    await world.server("ns1.v6-host.test", zones=["v6-host.test."])
    check = await checker(world).check("exemplo.com.br", nameservers)
    assert not check.verified
    assert check.problems[0].startswith("ns1.v6-host.test (::1) não responde com autoridade")


async def test_a_child_ns_set_that_differs_from_the_parents_is_reported(world: DnsWorld) -> None:
    await world.delegate("exemplo.com.br", PROVIDER_NS)
    check = await checker(world).check("exemplo.com.br", PROVIDER_NS)
    assert check.verified and check.warnings == ()
    # the zone itself now names another server than the registry's delegation
    await world.rrset(
        "exemplo.com.br.", "exemplo.com.br.", "NS", ["ns1.hospeda.test.", "ns1.other-host.test."]
    )
    check = await checker(world).check("exemplo.com.br", PROVIDER_NS)
    assert check.verified  # resolution works through the parent's set
    assert check.warnings == (
        "a própria zona publica NS ns1.hospeda.test, ns1.other-host.test, mas a zona pai "
        "delega a ns1.hospeda.test, ns2.hospeda.test; alguns resolvedores podem falhar / "
        "the zone itself publishes NS ns1.hospeda.test, ns1.other-host.test but the parent "
        "delegates to ns1.hospeda.test, ns2.hospeda.test; some resolvers may fail",
    )


async def test_a_dead_nameserver_is_asked_as_many_times_as_the_tries_setting(
    world: DnsWorld,
) -> None:
    await world.delegate("exemplo.com.br", PROVIDER_NS)
    await world.server("ns2.hospeda.test", mode="silent")
    asked = {}
    for tries in (1, 3):
        resolver = DelegationChecker(root_servers=[ROOT], port=world.port, timeout=0.2, tries=tries)
        await resolver.check("exemplo.com.br", PROVIDER_NS)  # warm the caches
        before = resolver.queries
        check = await resolver.check("exemplo.com.br", PROVIDER_NS)
        assert check.inconclusive and not check.verified
        asked[tries] = resolver.queries - before
    # the parent once, ns1 for SOA and NS, the silent ns2 once per try
    assert asked == {1: 4, 3: 6}


def test_root_servers_must_be_addresses() -> None:
    with pytest.raises(ValidationError) as caught:
        DnsSettings(root_servers="a.root-servers.net,198.41.0.4")
    assert "DNS_ROOT_SERVERS takes IP addresses (IPv4 or IPv6), not names: a.root-servers.net" in (
        str(caught.value)
    )
    assert DnsSettings(root_servers="198.41.0.4, 2001:503:ba3e::2:30").root_servers == [
        "198.41.0.4",
        "2001:503:ba3e::2:30",
    ]
