"""A local authoritative DNS world over real UDP and TCP (dnspython).

Several servers, each with its own loopback address and the same port, each
authoritative for some zones: a root, a TLD registry (``br.``, ``test.``)
that delegates customers' domains, the provider's nameservers. Referrals,
glue, authoritative answers, NXDOMAIN/NODATA and REFUSED work as in the real
DNS, so delegation checks run over the wire exactly as in production.

What it serves changes at run time through an HTTP control endpoint::

    python -m hospeda.dns.simulator.nameserver --port 10053 --control-port 8053

    PUT  /world                 replace everything ({"servers": [...], "zones": {origin: text}})
    GET  /world                 the current world
    PUT  /rrsets                {"zone", "name", "type", "ttl", "values": [...]} (no values: delete)
    PATCH /servers/{name}       {"zones": [...], "mode": "ok|refuse|silent|no-aa", "truncate_udp": bool}
    POST /delegate              {"domain", "nameservers": [...]}: the registry delegates the
                                domain and the named servers serve a zone for it
    POST /undelegate            {"domain"}
    GET  /stats                 queries answered
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone

log = logging.getLogger(__name__)

MODES = ("ok", "refuse", "silent", "no-aa")
SOA_TIMERS = "1 3600 600 604800 300"


@dataclass
class Server:
    """One authoritative server of the world."""

    name: str
    address: str
    zones: set[str] = field(default_factory=set)
    mode: str = "ok"
    truncate_udp: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "zones": sorted(self.zones),
            "mode": self.mode,
            "truncate_udp": self.truncate_udp,
        }


def _origin(text: str) -> dns.name.Name:
    return dns.name.from_text(text.rstrip(".") + "." if text not in (".", "") else ".")


def _address_type(address: str) -> str:
    return "AAAA" if ":" in address else "A"


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _key(name: dns.name.Name) -> str:
    return name.to_text().lower()


def minimal_zone(
    origin: str, nameservers: list[str], *, addresses: dict[str, str] | None = None
) -> str:
    """Zone-file text of a zone with SOA, NS and optional A records."""
    origin_dot = _key(_origin(origin))
    primary = nameservers[0].rstrip(".") + "." if nameservers else "ns." + origin_dot
    contact = "hostmaster." + (origin_dot if origin_dot != "." else "")
    lines = [f"@ 3600 IN SOA {primary} {contact} {SOA_TIMERS}"]
    lines += [f"@ 3600 IN NS {ns.rstrip('.')}." for ns in nameservers]
    for host, address in (addresses or {}).items():
        lines.append(f"{host.rstrip('.')}. 3600 IN {_address_type(address)} {address}")
    return "\n".join(lines) + "\n"


class World:
    """Every server and zone; answers a query as a given server would."""

    def __init__(self) -> None:
        self.servers: dict[str, Server] = {}
        self.zones: dict[str, dns.zone.Zone] = {}
        self.queries = 0

    # --- building -----------------------------------------------------------------------

    def load(self, spec: dict[str, Any]) -> None:
        servers = {
            s["name"].lower().rstrip("."): Server(
                name=s["name"].lower().rstrip("."),
                address=s["address"],
                zones={_key(_origin(z)) for z in s.get("zones", ())},
                mode=s.get("mode", "ok"),
                truncate_udp=bool(s.get("truncate_udp", False)),
            )
            for s in spec.get("servers", ())
        }
        zones = {
            _key(_origin(origin)): dns.zone.from_text(
                text, origin=_origin(origin), relativize=False
            )
            for origin, text in spec.get("zones", {}).items()
        }
        self.servers, self.zones = servers, zones

    def dump(self) -> dict[str, Any]:
        return {
            "servers": [s.as_dict() for s in self.servers.values()],
            "zones": {origin: zone.to_text() for origin, zone in self.zones.items()},
        }

    def set_zone(self, origin: str, text: str) -> None:
        self.zones[_key(_origin(origin))] = dns.zone.from_text(
            text, origin=_origin(origin), relativize=False
        )

    def set_rrset(
        self, zone: str, name: str, rdtype: str, values: list[str], ttl: int = 3600
    ) -> None:
        z = self.zones[_key(_origin(zone))]
        owner = _origin(name)
        kind = dns.rdatatype.from_text(rdtype)
        if not values:
            z.delete_rdataset(owner, kind)
            return
        rdataset = dns.rdataset.Rdataset(dns.rdataclass.IN, kind, ttl=ttl)
        for value in values:
            rdataset.add(
                dns.rdata.from_text(
                    dns.rdataclass.IN, kind, value, origin=z.origin, relativize=False
                )
            )
        z.replace_rdataset(owner, rdataset)

    def update_server(self, name: str, changes: dict[str, Any]) -> Server:
        server = self.servers[name.lower().rstrip(".")]
        if "zones" in changes:
            server.zones = {_key(_origin(z)) for z in changes["zones"]}
        if "mode" in changes:
            if changes["mode"] not in MODES:
                raise ValueError(f"mode must be one of {MODES}")
            server.mode = changes["mode"]
        if "truncate_udp" in changes:
            server.truncate_udp = bool(changes["truncate_udp"])
        return server

    def parent_zone_of(self, domain: str) -> str:
        """The origin of the closest zone above ``domain`` that some server serves."""
        name = _origin(domain).parent()
        while True:
            if _key(name) in self.zones:
                return _key(name)
            if name == dns.name.root:
                raise KeyError(f"no zone above {domain}")
            name = name.parent()

    def delegate(self, domain: str, nameservers: list[str]) -> None:
        """The registry publishes NS for ``domain``; servers of the world named
        in ``nameservers`` become authoritative for it."""
        parent = self.parent_zone_of(domain)
        names = [ns.lower().rstrip(".") + "." for ns in nameservers]
        self.set_rrset(parent, _key(_origin(domain)), "NS", names)
        origin = _key(_origin(domain))
        if origin not in self.zones:
            self.set_zone(origin, minimal_zone(origin, names))
        for ns in nameservers:
            server = self.servers.get(ns.lower().rstrip("."))
            if server is not None:
                server.zones.add(origin)

    def undelegate(self, domain: str) -> None:
        parent = self.parent_zone_of(domain)
        self.set_rrset(parent, _key(_origin(domain)), "NS", [])

    def server_at(self, address: str) -> Server | None:
        for server in self.servers.values():
            if server.address == address:
                return server
        return None

    # --- answering ------------------------------------------------------------------------

    def answer(self, server: Server, query: dns.message.Message) -> dns.message.Message | None:
        """The response ``server`` gives to ``query`` (None: it stays silent)."""
        self.queries += 1
        if server.mode == "silent":
            return None
        response = dns.message.make_response(query)
        response.flags &= ~dns.flags.RA
        if not query.question or server.mode == "refuse":
            response.set_rcode(dns.rcode.REFUSED)
            return response
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        zone = self._closest_zone(server, qname)
        if zone is None:
            response.set_rcode(dns.rcode.REFUSED)
            return response
        cut = self._delegation(zone, qname)
        if cut is not None:
            owner, ns_set = cut
            response.authority.append(_rrset(owner, ns_set))
            for ns in ns_set:
                target = ns.target
                if target.is_subdomain(zone.origin):
                    for kind in (dns.rdatatype.A, dns.rdatatype.AAAA):
                        glue = zone.get_rdataset(target, kind)
                        if glue is not None:
                            response.additional.append(_rrset(target, glue))
            return response
        if server.mode != "no-aa":
            response.flags |= dns.flags.AA
        node = zone.get_node(qname)
        soa = zone.get_rdataset(zone.origin, dns.rdatatype.SOA)
        if node is None:
            exists_below = any(
                (n if n.is_absolute() else n.derelativize(zone.origin)).is_subdomain(qname)
                for n in zone.nodes
            )
            if not exists_below:
                response.set_rcode(dns.rcode.NXDOMAIN)
            if soa is not None:
                response.authority.append(_rrset(zone.origin, soa))
            return response
        rdataset = node.get_rdataset(dns.rdataclass.IN, qtype)
        if rdataset is None and qtype != dns.rdatatype.CNAME:
            rdataset = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
        if rdataset is not None:
            response.answer.append(_rrset(qname, rdataset))
        elif soa is not None:
            response.authority.append(_rrset(zone.origin, soa))
        return response

    def _closest_zone(self, server: Server, qname: dns.name.Name) -> dns.zone.Zone | None:
        name = qname
        while True:
            key = _key(name)
            if key in server.zones and key in self.zones:
                return self.zones[key]
            if name == dns.name.root:
                return None
            name = name.parent()

    def _delegation(
        self, zone: dns.zone.Zone, qname: dns.name.Name
    ) -> tuple[dns.name.Name, dns.rdataset.Rdataset] | None:
        labels = qname.relativize(zone.origin).labels
        for depth in range(1, len(labels) + 1):
            owner = dns.name.Name(labels[-depth:]).derelativize(zone.origin)
            ns_set = zone.get_rdataset(owner, dns.rdatatype.NS)
            if ns_set is not None:
                return owner, ns_set
        return None


def _rrset(owner: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> dns.rrset.RRset:
    rrset = dns.rrset.RRset(owner, rdataset.rdclass, rdataset.rdtype)
    rrset.update(rdataset)
    return rrset


# --- transport ---------------------------------------------------------------------------


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, world: World, address: str) -> None:
        self.world = world
        self.address = address
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        server = self.world.server_at(self.address)
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return
        if server is None:
            return
        response = self.world.answer(server, query)
        if response is None or self.transport is None:
            return
        limit = max(512, query.payload if query.edns >= 0 else 512)
        if server.truncate_udp:
            response = dns.message.make_response(query)
            response.flags |= dns.flags.TC
            if server.mode != "no-aa":
                response.flags |= dns.flags.AA
        try:
            wire = response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.TC
            wire = truncated.to_wire()
        self.transport.sendto(wire, addr)


async def _tcp_client(
    world: World, address: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            try:
                header = await reader.readexactly(2)
            except asyncio.IncompleteReadError:
                return
            (length,) = struct.unpack("!H", header)
            data = await reader.readexactly(length)
            server = world.server_at(address)
            if server is None:
                return
            try:
                query = dns.message.from_wire(data)
            except Exception:
                return
            response = world.answer(server, query)
            if response is None:
                continue
            wire = response.to_wire()
            writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await writer.wait_closed()


class NameServers:
    """The world's servers listening on ``port`` (UDP and TCP) at each address."""

    def __init__(self, world: World, port: int) -> None:
        self.world = world
        self.port = port
        self._transports: list[asyncio.BaseTransport] = []
        self._tcp: list[asyncio.base_events.Server] = []
        self._bound: set[str] = set()

    async def start(self) -> None:
        await self.sync()

    async def sync(self) -> None:
        """Listen on the address of every server in the world (new ones too)."""
        loop = asyncio.get_running_loop()
        for server in list(self.world.servers.values()):
            if server.address in self._bound:
                continue
            transport, _ = await loop.create_datagram_endpoint(
                lambda a=server.address: _Udp(self.world, a),  # type: ignore[misc]
                local_addr=(server.address, self.port),
            )
            tcp = await asyncio.start_server(
                lambda r, w, a=server.address: _tcp_client(self.world, a, r, w),
                host=server.address,
                port=self.port,
            )
            self._transports.append(transport)
            self._tcp.append(tcp)
            self._bound.add(server.address)

    async def stop(self) -> None:
        for transport in self._transports:
            transport.close()
        for tcp in self._tcp:
            tcp.close()
            await tcp.wait_closed()
        self._transports, self._tcp, self._bound = [], [], set()


def port_free_on(addresses: list[str], port: int) -> bool:
    for address in addresses:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with socket.socket(_family(address), kind) as sock:
                try:
                    sock.bind((address, port))
                except OSError:
                    return False
    return True


def free_port_on(addresses: list[str]) -> int:
    """A port free for UDP and TCP on every address."""
    for _ in range(100):
        with socket.socket(_family(addresses[0]), socket.SOCK_DGRAM) as sock:
            sock.bind((addresses[0], 0))
            port = int(sock.getsockname()[1])
        if port_free_on(addresses, port):
            return port
    raise RuntimeError(f"no port free on all of {addresses}")


# --- the default world -------------------------------------------------------------------

ROOT = "127.0.53.1"
REGISTRY = "127.0.53.2"
PROVIDER_NS = {"ns1.hospeda.test": "127.0.53.10", "ns2.hospeda.test": "127.0.53.11"}
CLOUDFLARE_NS = {
    "ada.ns.cloudflare.test": "127.0.53.20",
    "bob.ns.cloudflare.test": "127.0.53.21",
    "cruz.ns.cloudflare.test": "127.0.53.22",
    "dora.ns.cloudflare.test": "127.0.53.23",
}
OTHER_NS = {"ns1.other-host.test": "127.0.53.30", "ns2.other-host.test": "127.0.53.31"}
ADDRESSES = [ROOT, REGISTRY, *PROVIDER_NS.values(), *CLOUDFLARE_NS.values(), *OTHER_NS.values()]


def default_world() -> dict[str, Any]:
    """A root, the registry serving ``br.`` and ``test.``, the provider's own
    nameservers (``ns1/ns2.hospeda.test``), Cloudflare-like nameservers
    (``*.ns.cloudflare.test``) and another host's (``ns1/ns2.other-host.test``)."""
    registry_ns = "a.dns.br"
    root = minimal_zone(".", ["a.root-servers.test"], addresses={"a.root-servers.test": ROOT})
    root += (
        f"br. 172800 IN NS {registry_ns}.\n"
        f"test. 172800 IN NS {registry_ns}.\n"
        f"{registry_ns}. 172800 IN A {REGISTRY}\n"
    )
    br = minimal_zone("br.", [registry_ns], addresses={registry_ns: REGISTRY})
    test = minimal_zone("test.", [registry_ns])
    groups = {
        "hospeda.test.": PROVIDER_NS,
        "ns.cloudflare.test.": CLOUDFLARE_NS,
        "other-host.test.": OTHER_NS,
    }
    zones = {".": root, "br.": br}
    servers = [
        {"name": "a.root-servers.test", "address": ROOT, "zones": ["."]},
        {"name": registry_ns, "address": REGISTRY, "zones": ["br.", "test."]},
    ]
    for origin, hosts in groups.items():
        for host, address in hosts.items():
            test += f"{origin} 86400 IN NS {host}.\n{host}. 86400 IN {_address_type(address)} {address}\n"
            servers.append({"name": host, "address": address, "zones": [origin]})
        zones[origin] = minimal_zone(origin, list(hosts), addresses=hosts)
    zones["test."] = test
    return {"servers": servers, "zones": zones}


# --- control endpoint and entry point ----------------------------------------------------


def control_app(world: World, servers: NameServers) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def get_world(request: Request) -> JSONResponse:
        return JSONResponse(world.dump())

    async def put_world(request: Request) -> JSONResponse:
        world.load(await request.json())
        await servers.sync()
        return JSONResponse({"ok": True})

    async def put_rrset(request: Request) -> JSONResponse:
        body = await request.json()
        try:
            world.set_rrset(
                body["zone"],
                body["name"],
                body["type"],
                body.get("values", []),
                body.get("ttl", 3600),
            )
        except (KeyError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    async def patch_server(request: Request) -> JSONResponse:
        try:
            server = world.update_server(request.path_params["name"], await request.json())
        except (KeyError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(server.as_dict())

    async def delegate(request: Request) -> JSONResponse:
        body = await request.json()
        try:
            world.delegate(body["domain"], body["nameservers"])
        except (KeyError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    async def undelegate(request: Request) -> JSONResponse:
        body = await request.json()
        try:
            world.undelegate(body["domain"])
        except (KeyError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse({"queries": world.queries, "port": servers.port})

    return Starlette(
        routes=[
            Route("/world", get_world, methods=["GET"]),
            Route("/world", put_world, methods=["PUT"]),
            Route("/rrsets", put_rrset, methods=["PUT"]),
            Route("/servers/{name}", patch_server, methods=["PATCH"]),
            Route("/delegate", delegate, methods=["POST"]),
            Route("/undelegate", undelegate, methods=["POST"]),
            Route("/stats", stats, methods=["GET"]),
        ]
    )


async def serve(port: int, control_port: int, spec: dict[str, Any] | None = None) -> None:
    import uvicorn

    world = World()
    world.load(spec or default_world())
    servers = NameServers(world, port)
    await servers.start()
    config = uvicorn.Config(
        control_app(world, servers),
        host="127.0.0.1",
        port=control_port,
        log_level="warning",
        access_log=False,
    )
    log.info("DNS world on port %d (control http://127.0.0.1:%d)", port, control_port)
    try:
        await uvicorn.Server(config).serve()
    finally:
        await servers.stop()


def main(argv: list[str] | None = None) -> None:
    import json

    parser = argparse.ArgumentParser(prog="python -m hospeda.dns.simulator.nameserver")
    parser.add_argument("--port", type=int, required=True, help="DNS port on every server address")
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--world", help="JSON file with the world (default: the built-in one)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    spec = None
    if args.world:
        with open(args.world) as f:
            spec = json.load(f)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.control_port, spec))


if __name__ == "__main__":
    main()
