"""Delegation checks over the wire with dnspython.

For a domain, walk down from the root servers following referrals until the
parent zone's authoritative servers answer with the referral for the domain
itself: that NS set is what the registry (Registro.br, …) publishes. Then ask
each expected nameserver for the zone's SOA without recursion and require an
authoritative answer (AA). Non-recursive queries only, so nothing is taken
from a cache that might be stale.

Referrals above the domain and nameserver addresses are cached for their TTL
(capped), so checking thousands of domains under one TLD asks the root once.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from hospeda.dns.domain import DelegationCheck, compare_nameservers

MAX_REFERRALS = 16
CACHE_CAP_S = 3600.0


class ResolutionError(Exception):
    """No server answered usefully: the check says nothing either way."""


@dataclass
class _Cached:
    value: tuple[str, ...]
    expires: float


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


class DelegationChecker:
    """Checks that a domain is delegated to the expected nameservers."""

    def __init__(
        self,
        *,
        root_servers: list[str],
        port: int = 53,
        timeout: float = 2.0,
        tries: int = 2,
    ) -> None:
        if not root_servers:
            raise ValueError("at least one root server is needed")
        self.root_servers = tuple(root_servers)
        self.port = port
        self.timeout = timeout
        self.tries = tries
        self._zone_servers: dict[str, _Cached] = {}
        self._addresses: dict[str, _Cached] = {}
        self.queries = 0

    # --- the check ---------------------------------------------------------------------

    async def check(self, domain: str, expected: tuple[str, ...]) -> DelegationCheck:
        """What the parent zone and the expected nameservers say about ``domain``.

        Raises ``ResolutionError`` when the parent zone cannot be reached."""
        expected = tuple(sorted({ns.lower().rstrip(".") for ns in expected}))
        found = await self.parent_nameservers(domain)
        mismatch = compare_nameservers(expected, found)
        problems = list(mismatch)
        inconclusive = False
        answers = await asyncio.gather(*(self._authoritative(ns, domain) for ns in expected))
        child_sets: set[tuple[str, ...]] = set()
        for status, detail, child in answers:
            if child is not None:
                child_sets.add(child)
            if status == "ok":
                continue
            if status == "unreachable":
                inconclusive = True
            problems.append(detail)
        return DelegationCheck(
            expected=expected,
            found=found,
            problems=tuple(problems),
            inconclusive=inconclusive and not mismatch,
            warnings=_disagreements(found, child_sets),
        )

    async def parent_nameservers(self, domain: str) -> tuple[str, ...]:
        """The NS set the parent zone publishes for ``domain`` (empty if none)."""
        target = dns.name.from_text(domain)
        zone, servers = self._closest_cached(target)
        for _ in range(MAX_REFERRALS):
            response = await self._ask_any(servers, target, dns.rdatatype.NS)
            referral = _referral(response, zone, target)
            if referral is None:
                # an authoritative answer: no delegation below this zone
                answer = response.get_rrset(
                    response.answer, target, dns.rdataclass.IN, dns.rdatatype.NS
                )
                if answer is not None and response.flags & dns.flags.AA:
                    # the parent's servers also host the child zone
                    return tuple(sorted(_text(r.target) for r in answer))
                return ()
            owner, rrset = referral
            names = tuple(sorted(_text(r.target) for r in rrset))
            if owner == target:
                return names
            zone = owner
            servers = await self._addresses_for(names, response)
            self._zone_servers[_text(owner)] = _Cached(
                servers, time.monotonic() + min(rrset.ttl, CACHE_CAP_S)
            )
        raise ResolutionError(f"too many referrals resolving {domain}")

    async def _authoritative(
        self, nameserver: str, domain: str
    ) -> tuple[str, str, tuple[str, ...] | None]:
        """("ok" | "lame" | "unreachable", explanation, the NS set the zone itself
        publishes there) for one expected nameserver."""
        try:
            addresses = await self.address_of(nameserver)
        except ResolutionError:
            addresses = ()
        if not addresses:
            return (
                "lame",
                f"{nameserver}: nome sem endereço (A/AAAA) / name has no address (A/AAAA)",
                None,
            )
        target = dns.name.from_text(domain)
        for address in addresses:
            try:
                response = await self._query(address, target, dns.rdatatype.SOA)
            except ResolutionError:
                continue
            soa = response.get_rrset(response.answer, target, dns.rdataclass.IN, dns.rdatatype.SOA)
            if (
                response.rcode() == dns.rcode.NOERROR
                and response.flags & dns.flags.AA
                and soa is not None
            ):
                return "ok", "", await self._child_nameservers(address, target)
            return (
                "lame",
                f"{nameserver} ({address}) não responde com autoridade por {domain} / "
                f"does not answer authoritatively for {domain} ({dns.rcode.to_text(response.rcode())}"
                f"{', AA' if response.flags & dns.flags.AA else ', no AA'})",
                None,
            )
        return (
            "unreachable",
            f"{nameserver} não respondeu / did not answer",
            None,
        )

    async def _child_nameservers(
        self, address: str, target: dns.name.Name
    ) -> tuple[str, ...] | None:
        """The zone's own NS set as one of its servers publishes it (None: no answer)."""
        try:
            response = await self._query(address, target, dns.rdatatype.NS)
        except ResolutionError:
            return None
        rrset = response.get_rrset(response.answer, target, dns.rdataclass.IN, dns.rdatatype.NS)
        if rrset is None or not response.flags & dns.flags.AA:
            return None
        return tuple(sorted(_text(r.target) for r in rrset))

    # --- addresses -------------------------------------------------------------------------

    async def address_of(self, hostname: str, *, depth: int = 0) -> tuple[str, ...]:
        """IPv4 then IPv6 addresses of ``hostname``, resolved iteratively from the
        root (a nameserver with only AAAA records is reachable, not lame)."""
        key = hostname.lower().rstrip(".")
        cached = self._addresses.get(key)
        if cached and cached.expires > time.monotonic():
            return cached.value
        if depth > 4:
            raise ResolutionError(f"address lookup of {hostname} goes too deep")
        target = dns.name.from_text(key)
        found: list[str] = []
        ttl = CACHE_CAP_S
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            addresses, answer_ttl = await self._walk_to_addresses(target, rdtype, depth=depth)
            found.extend(addresses)
            ttl = min(ttl, answer_ttl)
        self._addresses[key] = _Cached(tuple(found), time.monotonic() + ttl)
        return tuple(found)

    async def _walk_to_addresses(
        self, target: dns.name.Name, rdtype: dns.rdatatype.RdataType, *, depth: int
    ) -> tuple[tuple[str, ...], float]:
        """The ``rdtype`` (A or AAAA) addresses of ``target`` and how long to keep them."""
        zone, servers = self._closest_cached(target)
        for _ in range(MAX_REFERRALS):
            response = await self._ask_any(servers, target, rdtype, depth=depth)
            answer = response.get_rrset(response.answer, target, dns.rdataclass.IN, rdtype)
            if answer is not None:
                return tuple(r.address for r in answer), min(answer.ttl, CACHE_CAP_S)
            referral = _referral(response, zone, target)
            if referral is None:
                return (), CACHE_CAP_S
            owner, rrset = referral
            zone = owner
            names = tuple(sorted(_text(r.target) for r in rrset))
            servers = await self._addresses_for(names, response, depth=depth)
            self._zone_servers[_text(owner)] = _Cached(
                servers, time.monotonic() + min(rrset.ttl, CACHE_CAP_S)
            )
        raise ResolutionError(f"too many referrals resolving {_text(target)}")

    async def _addresses_for(
        self, names: tuple[str, ...], response: dns.message.Message, *, depth: int = 0
    ) -> tuple[str, ...]:
        glue: dict[str, list[str]] = {}
        expires: dict[str, float] = {}
        for rrset in sorted(response.additional, key=lambda r: r.rdtype):  # A before AAAA
            name = _text(rrset.name)
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA) and name in names:
                glue.setdefault(name, []).extend(r.address for r in rrset)
                expires[name] = min(expires.get(name, CACHE_CAP_S), rrset.ttl)
        for name, addresses in glue.items():
            self._addresses[name] = _Cached(tuple(addresses), time.monotonic() + expires[name])
        if glue:
            return tuple(address for addresses in glue.values() for address in addresses)
        for name in names:  # no glue: look the nameservers up
            try:
                found = await self.address_of(name, depth=depth + 1)
            except ResolutionError:
                continue
            if found:
                return found
        raise ResolutionError(f"no address for any of {', '.join(names)}")

    def _closest_cached(self, target: dns.name.Name) -> tuple[dns.name.Name, tuple[str, ...]]:
        now = time.monotonic()
        name = target.parent() if len(target) > 1 else target
        while True:
            cached = self._zone_servers.get(_text(name)) if name != dns.name.root else None
            if cached and cached.expires > now:
                return name, cached.value
            if name == dns.name.root:
                return dns.name.root, self.root_servers
            name = name.parent()

    # --- the wire ----------------------------------------------------------------------------

    async def _ask_any(
        self,
        servers: tuple[str, ...],
        qname: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        *,
        depth: int = 0,
    ) -> dns.message.Message:
        last = "no server"
        for address in random.sample(servers, len(servers)):
            try:
                response = await self._query(address, qname, rdtype)
            except ResolutionError as exc:
                last = str(exc)
                continue
            if response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                return response
            last = f"{address}: {dns.rcode.to_text(response.rcode())}"
        raise ResolutionError(f"no useful answer for {_text(qname)}: {last}")

    async def _query(
        self, address: str, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> dns.message.Message:
        query = dns.message.make_query(qname, rdtype, use_edns=0, payload=1232)
        query.flags &= ~dns.flags.RD
        for attempt in range(self.tries):
            self.queries += 1
            try:
                response = await dns.asyncquery.udp(
                    query, address, timeout=self.timeout, port=self.port
                )
                if response.flags & dns.flags.TC:
                    self.queries += 1
                    response = await dns.asyncquery.tcp(
                        query, address, timeout=self.timeout, port=self.port
                    )
                return response
            except (dns.exception.Timeout, OSError, dns.exception.DNSException) as exc:
                if attempt + 1 >= self.tries:
                    raise ResolutionError(f"{address}: {type(exc).__name__}") from None
        raise ResolutionError(f"{address}: no answer")


def _disagreements(parent: tuple[str, ...], child_sets: set[tuple[str, ...]]) -> tuple[str, ...]:
    """The zone's own NS set differs from the parent's delegation: resolvers that
    trust the child's set (most) and those that keep the parent's disagree."""
    if not parent:
        return ()
    return tuple(
        f"a própria zona publica NS {', '.join(child) or '(nenhum)'}, mas a zona pai delega a "
        f"{', '.join(parent)}; alguns resolvedores podem falhar / the zone itself publishes "
        f"NS {', '.join(child) or '(none)'} but the parent delegates to {', '.join(parent)}; "
        "some resolvers may fail"
        for child in sorted(child_sets)
        if set(child) != set(parent)
    )


def _referral(
    response: dns.message.Message, zone: dns.name.Name, target: dns.name.Name
) -> tuple[dns.name.Name, dns.rrset.RRset] | None:
    """The delegation in a non-authoritative answer: an NS set in the authority
    section for a name below ``zone`` and at or above ``target``."""
    if response.flags & dns.flags.AA or response.rcode() != dns.rcode.NOERROR:
        return None
    for rrset in response.authority:
        if (
            rrset.rdtype == dns.rdatatype.NS
            and rrset.name != zone
            and rrset.name.is_subdomain(zone)
            and target.is_subdomain(rrset.name)
        ):
            return rrset.name, rrset
    return None
