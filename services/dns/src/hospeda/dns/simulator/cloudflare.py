"""A Cloudflare API v4 simulator for zones and DNS records.

An honest HTTP server: the same envelope (``success``, ``errors[{code,
message}]``, ``messages``, ``result``, ``result_info``), status codes and
error codes as Cloudflare (1061 zone exists, 81057/81058 record exists, 81053
CNAME conflict, 9109 invalid token, 10000 authentication error, 6003 bad
headers, 1004 validation, 7003 unknown object, 971 rate limited), pagination,
and the per-token rate limit: more than ``rate_limit`` requests in
``rate_window`` seconds blocks the token for a whole window with 429 and
``Retry-After``, as Cloudflare does.

    python -m hospeda.dns.simulator.cloudflare --port 8787

API under ``/client/v4``; the control endpoint under ``/_sim``::

    POST /_sim/reset     forget everything (optional body: config as below)
    POST /_sim/config    {"rate_limit", "rate_window_s", "tokens": {token: "edit"|"read"}, "nameservers": [...]}
    POST /_sim/faults    {"method", "path" (regex), "status", "code", "message", "times",
                          "delay_s", "retry_after", "after_effect"} — answer the next matching
                          requests with this error (``after_effect``: do the work, then fail,
                          as when a response is lost)
    POST /_sim/block     {"seconds"}: rate-limit every token for that long
    GET  /_sim/stats     requests, answers by status, most requests seen in one window
    GET  /_sim/state     every zone with its records
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import math
import re
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DEFAULT_TOKEN = "dev-cloudflare-token"  # noqa: S105 - the simulator's own token
DEFAULT_NAMESERVERS = (
    "ada.ns.cloudflare.test",
    "bob.ns.cloudflare.test",
    "cruz.ns.cloudflare.test",
    "dora.ns.cloudflare.test",
)
RECORD_TYPES = {"A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "CAA"}
_HOST = re.compile(
    r"^(?=.{1,253}$)(\*\.)?([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$"
)
_ZONE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        chain: list[tuple[int, str]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status
        self.code = code
        self.message = message
        self.chain = chain or []


@dataclass
class Fault:
    method: str | None
    path: re.Pattern[str]
    status: int
    code: int
    message: str
    times: int
    delay_s: float = 0.0
    retry_after: int | None = None
    after_effect: bool = False


@dataclass
class SimState:
    rate_limit: int = 1200
    rate_window_s: float = 300.0
    tokens: dict[str, str] = field(default_factory=lambda: {DEFAULT_TOKEN: "edit"})
    nameservers: tuple[str, ...] = DEFAULT_NAMESERVERS
    zones: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    seen: dict[str, deque[float]] = field(default_factory=dict)
    blocked_until: dict[str, float] = field(default_factory=dict)
    block_all_until: float = 0.0
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    max_in_window: int = 0


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _envelope(result: Any, *, result_info: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return body


def _error_body(exc: ApiError) -> dict[str, Any]:
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.chain:
        error["error_chain"] = [{"code": c, "message": m} for c, m in exc.chain]
    return {"success": False, "errors": [error], "messages": [], "result": None}


def _paginate(items: list[Any], request: Request, *, default: int, maximum: int) -> JSONResponse:
    try:
        page = max(1, int(request.query_params.get("page", 1)))
        per_page = int(request.query_params.get("per_page", default))
    except ValueError:
        raise ApiError(400, 1004, "page and per_page must be integers") from None
    if not 1 <= per_page <= maximum:
        raise ApiError(400, 1004, f"per_page must be between 1 and {maximum}")
    chunk = items[(page - 1) * per_page : page * per_page]
    info = {
        "page": page,
        "per_page": per_page,
        "count": len(chunk),
        "total_count": len(items),
        "total_pages": max(1, math.ceil(len(items) / per_page)),
    }
    return JSONResponse(_envelope(chunk, result_info=info))


class CloudflareSimulator:
    """The simulator's state and HTTP handlers."""

    def __init__(self, state: SimState | None = None) -> None:
        self.state = state or SimState()

    # --- the gate every API request passes ----------------------------------------------

    async def gate(self, request: Request, *, write: bool) -> str:
        state = self.state
        state.requests += 1
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            raise ApiError(
                400,
                6003,
                "Invalid request headers",
                chain=[(6111, "Invalid format for Authorization header")],
            )
        token = auth[7:].strip()
        scope = state.tokens.get(token)
        if scope is None:
            raise ApiError(403, 9109, "Invalid access token")
        now = time.monotonic()
        blocked = max(state.blocked_until.get(token, 0.0), state.block_all_until)
        if blocked > now:
            raise self._rate_limited(blocked - now)
        window = state.seen.setdefault(token, deque())
        while window and window[0] <= now - state.rate_window_s:
            window.popleft()
        window.append(now)
        state.max_in_window = max(state.max_in_window, len(window))
        if len(window) > state.rate_limit:
            state.blocked_until[token] = now + state.rate_window_s
            raise self._rate_limited(state.rate_window_s)
        if write and scope != "edit":
            raise ApiError(403, 10000, "Authentication error")
        return token

    def _rate_limited(self, seconds: float) -> ApiError:
        return ApiError(
            429,
            971,
            f"More than {self.state.rate_limit} requests per {self.state.rate_window_s:g} seconds reached. "
            "Please wait and consider throttling your request speed",
            retry_after=max(1, math.ceil(seconds)),
        )

    def _fault_for(self, request: Request) -> Fault | None:
        path = request.url.path.removeprefix("/client/v4")
        for fault in self.state.faults:
            if fault.times <= 0:
                continue
            if fault.method and fault.method.upper() != request.method:
                continue
            if not fault.path.search(path):
                continue
            fault.times -= 1
            return fault
        return None

    def endpoint(self, handler: Any, *, write: bool = False) -> Any:
        async def run(request: Request) -> JSONResponse:
            try:
                await self.gate(request, write=write)
                fault = self._fault_for(request)
                if fault is not None and fault.delay_s:
                    await asyncio.sleep(fault.delay_s)
                if fault is not None and fault.after_effect:
                    await handler(request)
                if fault is not None:
                    raise ApiError(
                        fault.status, fault.code, fault.message, retry_after=fault.retry_after
                    )
                response: JSONResponse = await handler(request)
            except ApiError as exc:
                response = JSONResponse(_error_body(exc), status_code=exc.status)
                if exc.retry_after is not None:
                    response.headers["retry-after"] = str(exc.retry_after)
            self.state.by_status[response.status_code] += 1
            state = self.state
            response.headers["ratelimit-policy"] = (
                f'"default";q={state.rate_limit};w={int(state.rate_window_s)}'
            )
            return response

        return run

    # --- zones -----------------------------------------------------------------------------

    async def create_zone(self, request: Request) -> JSONResponse:
        body = await _json(request)
        name = str(body.get("name", "")).lower().rstrip(".")
        account = body.get("account") or {}
        if not isinstance(account, dict) or not account.get("id"):
            raise ApiError(400, 1004, "account.id is required")
        if not _ZONE.match(name):
            raise ApiError(
                400, 1004, f"Invalid zone name {name!r}", chain=[(1099, "Invalid domain")]
            )
        zone_type = body.get("type", "full")
        if zone_type not in ("full", "partial", "secondary"):
            raise ApiError(400, 1004, f"Invalid zone type {zone_type!r}")
        if any(z["name"] == name for z in self.state.zones.values()):
            raise ApiError(400, 1061, f"{name} already exists")
        zone_id = uuid.uuid4().hex
        pool = self.state.nameservers
        first = sum(account["id"].encode()) % max(1, len(pool) - 1)
        now = _now_iso()
        zone = {
            "id": zone_id,
            "name": name,
            "status": "pending",
            "type": zone_type,
            "paused": False,
            "development_mode": 0,
            "name_servers": list(pool[first : first + 2]) if len(pool) > 1 else list(pool),
            "original_name_servers": None,
            "original_registrar": None,
            "original_dnshost": None,
            "account": {"id": account["id"], "name": "Hospeda"},
            "owner": {"id": None, "name": None, "type": "organization"},
            "plan": {"id": "free", "name": "Free Website", "price": 0, "currency": "USD"},
            "meta": {"step": 2, "phishing_detected": False},
            "permissions": ["#zone:edit", "#dns_records:edit"],
            "activated_on": None,
            "created_on": now,
            "modified_on": now,
        }
        self.state.zones[zone_id] = zone
        self.state.records[zone_id] = {}
        return JSONResponse(_envelope(zone))

    async def list_zones(self, request: Request) -> JSONResponse:
        zones = sorted(self.state.zones.values(), key=lambda z: z["name"])
        name = request.query_params.get("name")
        account = request.query_params.get("account.id")
        status = request.query_params.get("status")
        zones = [
            z
            for z in zones
            if (not name or z["name"] == name.lower())
            and (not account or z["account"]["id"] == account)
            and (not status or z["status"] == status)
        ]
        return _paginate(zones, request, default=20, maximum=50)

    def _zone(self, request: Request) -> dict[str, Any]:
        zone_id = request.path_params["zone_id"]
        zone = self.state.zones.get(zone_id)
        if zone is None:
            raise ApiError(
                404,
                7003,
                f"Could not route to {request.url.path}, perhaps your object identifier is invalid?",
                chain=[(7000, "No route for that URI")],
            )
        return zone

    async def get_zone(self, request: Request) -> JSONResponse:
        return JSONResponse(_envelope(self._zone(request)))

    async def delete_zone(self, request: Request) -> JSONResponse:
        zone = self._zone(request)
        del self.state.zones[zone["id"]]
        self.state.records.pop(zone["id"], None)
        return JSONResponse(_envelope({"id": zone["id"]}))

    # --- records ---------------------------------------------------------------------------

    async def create_record(self, request: Request) -> JSONResponse:
        zone = self._zone(request)
        record = self._validated(zone, await _json(request))
        self._check_conflicts(zone, record, replacing=None)
        record_id = uuid.uuid4().hex
        now = _now_iso()
        record.update(id=record_id, created_on=now, modified_on=now)
        self.state.records[zone["id"]][record_id] = record
        return JSONResponse(_envelope(record))

    async def list_records(self, request: Request) -> JSONResponse:
        zone = self._zone(request)
        params = request.query_params
        name = (params.get("name.exact") or params.get("name") or "").lower().rstrip(".")
        rtype = params.get("type")
        content = params.get("content.exact") or params.get("content")
        records = [
            r
            for r in self.state.records[zone["id"]].values()
            if (not name or r["name"] == name)
            and (not rtype or r["type"] == rtype)
            and (not content or r["content"] == content)
        ]
        records.sort(key=lambda r: (r["name"], r["type"], r["created_on"]))
        return _paginate(records, request, default=100, maximum=5000)

    def _record(self, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
        zone = self._zone(request)
        record = self.state.records[zone["id"]].get(request.path_params["record_id"])
        if record is None:
            raise ApiError(404, 81044, "Record does not exist.")
        return zone, record

    async def get_record(self, request: Request) -> JSONResponse:
        return JSONResponse(_envelope(self._record(request)[1]))

    async def put_record(self, request: Request, *, partial: bool = False) -> JSONResponse:
        zone, current = self._record(request)
        body = await _json(request)
        if partial:
            merged = {k: current[k] for k in ("name", "type", "content", "ttl", "proxied")}
            for key in ("priority", "data"):
                if key in current:
                    merged[key] = current[key]
            body = {**merged, **body}
        record = self._validated(zone, body)
        self._check_conflicts(zone, record, replacing=current["id"])
        record.update(id=current["id"], created_on=current["created_on"], modified_on=_now_iso())
        self.state.records[zone["id"]][current["id"]] = record
        return JSONResponse(_envelope(record))

    async def patch_record(self, request: Request) -> JSONResponse:
        return await self.put_record(request, partial=True)

    async def delete_record(self, request: Request) -> JSONResponse:
        zone, record = self._record(request)
        del self.state.records[zone["id"]][record["id"]]
        return JSONResponse(_envelope({"id": record["id"]}))

    def _validated(self, zone: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        rtype = str(body.get("type", "")).upper()
        if rtype not in RECORD_TYPES:
            raise ApiError(
                400, 1004, "DNS Validation Error", chain=[(9000, f"Invalid record type {rtype!r}")]
            )
        name = str(body.get("name", "")).lower().rstrip(".")
        if name in ("", "@"):
            name = zone["name"]
        elif name != zone["name"] and not name.endswith("." + zone["name"]):
            name = f"{name}.{zone['name']}"
        if not _HOST.match(name):
            raise ApiError(
                400, 1004, "DNS Validation Error", chain=[(9007, f"Invalid record name {name!r}")]
            )
        ttl = body.get("ttl", 1)
        if not isinstance(ttl, int) or not (ttl == 1 or 60 <= ttl <= 86400):
            raise ApiError(
                400,
                1004,
                "DNS Validation Error",
                chain=[(9021, "TTL must be between 60 and 86400 seconds, or 1 for Automatic.")],
            )
        proxied = bool(body.get("proxied", False))
        if proxied and rtype not in ("A", "AAAA", "CNAME"):
            raise ApiError(400, 9004, f"This record type cannot be proxied: {rtype}")
        record: dict[str, Any] = {
            "zone_id": zone["id"],
            "zone_name": zone["name"],
            "name": name,
            "type": rtype,
            "ttl": ttl,
            "proxied": proxied,
            "proxiable": rtype in ("A", "AAAA", "CNAME"),
            "settings": {},
            "meta": {},
            "comment": body.get("comment"),
            "tags": body.get("tags") or [],
        }
        content = str(body.get("content", "")).strip()
        data = body.get("data") if isinstance(body.get("data"), dict) else None
        if rtype == "A":
            try:
                content = str(ipaddress.IPv4Address(content))
            except ValueError:
                raise ApiError(
                    400, 9005, "Content for A record must be a valid IPv4 address."
                ) from None
        elif rtype == "AAAA":
            try:
                content = str(ipaddress.IPv6Address(content))
            except ValueError:
                raise ApiError(
                    400, 9006, "Content for AAAA record must be a valid IPv6 address."
                ) from None
        elif rtype in ("CNAME", "NS", "MX"):
            content = content.lower().rstrip(".")
            if not _HOST.match(content):
                raise ApiError(
                    400,
                    1004,
                    "DNS Validation Error",
                    chain=[(9007, f"Content for {rtype} record is invalid.")],
                )
        elif rtype == "TXT":
            if not content or len(content) > 2048:
                raise ApiError(
                    400,
                    1004,
                    "DNS Validation Error",
                    chain=[(9100, "TXT content must be 1 to 2048 characters.")],
                )
        elif rtype == "SRV":
            if data is None:
                raise ApiError(
                    400, 1004, "DNS Validation Error", chain=[(9101, "SRV records need data.")]
                )
            try:
                priority, weight, port = (
                    int(data["priority"]),
                    int(data["weight"]),
                    int(data["port"]),
                )
                target = str(data["target"]).lower().rstrip(".") or "."
            except (KeyError, TypeError, ValueError):
                raise ApiError(
                    400,
                    1004,
                    "DNS Validation Error",
                    chain=[(9101, "SRV data needs priority, weight, port and target.")],
                ) from None
            if not all(0 <= v <= 65535 for v in (priority, weight, port)):
                raise ApiError(
                    400,
                    1004,
                    "DNS Validation Error",
                    chain=[(9101, "SRV numbers range from 0 to 65535.")],
                )
            data = {"priority": priority, "weight": weight, "port": port, "target": target}
            record["data"] = data
            record["priority"] = priority
            content = f"{weight} {port} {target}"
        elif rtype == "CAA":
            if data is None:
                raise ApiError(
                    400, 1004, "DNS Validation Error", chain=[(9102, "CAA records need data.")]
                )
            try:
                flags, tag, value = int(data["flags"]), str(data["tag"]), str(data["value"])
            except (KeyError, TypeError, ValueError):
                raise ApiError(
                    400,
                    1004,
                    "DNS Validation Error",
                    chain=[(9102, "CAA data needs flags, tag and value.")],
                ) from None
            record["data"] = {"flags": flags, "tag": tag, "value": value}
            content = f'{flags} {tag} "{value}"'
        if rtype == "MX":
            priority = body.get("priority")
            if not isinstance(priority, int) or not 0 <= priority <= 65535:
                raise ApiError(
                    400,
                    1004,
                    "DNS Validation Error",
                    chain=[(9101, "MX records need a priority from 0 to 65535.")],
                )
            record["priority"] = priority
        record["content"] = content
        return record

    def _check_conflicts(
        self, zone: dict[str, Any], record: dict[str, Any], *, replacing: str | None
    ) -> None:
        same_name = [
            r
            for r in self.state.records[zone["id"]].values()
            if r["name"] == record["name"] and r["id"] != replacing
        ]
        for other in same_name:
            if (
                other["type"] == record["type"]
                and other["content"] == record["content"]
                and other.get("priority") == record.get("priority")
            ):
                if record["type"] in ("A", "AAAA", "CNAME"):
                    raise ApiError(400, 81057, "Record already exists.")
                raise ApiError(400, 81058, "An identical record already exists.")
        if record["type"] == "CNAME" and same_name:
            raise ApiError(400, 81053, "An A, AAAA, or CNAME record with that host already exists.")
        if any(r["type"] == "CNAME" for r in same_name):
            raise ApiError(400, 81054, "A CNAME record with that host already exists.")

    # --- control -----------------------------------------------------------------------------

    def configure(self, body: dict[str, Any]) -> None:
        state = self.state
        if "rate_limit" in body:
            state.rate_limit = int(body["rate_limit"])
        if "rate_window_s" in body:
            state.rate_window_s = float(body["rate_window_s"])
        if "tokens" in body:
            state.tokens = {str(k): str(v) for k, v in body["tokens"].items()}
        if "nameservers" in body:
            state.nameservers = tuple(body["nameservers"])

    async def sim_reset(self, request: Request) -> JSONResponse:
        body = await _json(request, required=False)
        self.state = SimState()
        self.configure(body)
        return JSONResponse({"ok": True})

    async def sim_config(self, request: Request) -> JSONResponse:
        self.configure(await _json(request))
        return JSONResponse({"ok": True})

    async def sim_faults(self, request: Request) -> JSONResponse:
        body = await _json(request)
        self.state.faults.append(
            Fault(
                method=body.get("method"),
                path=re.compile(body.get("path", ".*")),
                status=int(body.get("status", 500)),
                code=int(body.get("code", 10001)),
                message=str(body.get("message", "Internal error (simulated)")),
                times=int(body.get("times", 1)),
                delay_s=float(body.get("delay_s", 0)),
                retry_after=body.get("retry_after"),
                after_effect=bool(body.get("after_effect", False)),
            )
        )
        return JSONResponse({"ok": True})

    async def sim_block(self, request: Request) -> JSONResponse:
        body = await _json(request)
        self.state.block_all_until = time.monotonic() + float(body.get("seconds", 1))
        return JSONResponse({"ok": True})

    async def sim_stats(self, request: Request) -> JSONResponse:
        state = self.state
        return JSONResponse(
            {
                "requests": state.requests,
                "by_status": {str(k): v for k, v in state.by_status.items()},
                "rate_limited": state.by_status.get(429, 0),
                "max_in_window": state.max_in_window,
                "rate_limit": state.rate_limit,
                "rate_window_s": state.rate_window_s,
                "zones": len(state.zones),
                "records": sum(len(r) for r in state.records.values()),
            }
        )

    async def sim_state(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "zones": [
                    {**zone, "records": list(self.state.records[zone_id].values())}
                    for zone_id, zone in self.state.zones.items()
                ]
            }
        )

    def app(self) -> Starlette:
        e = self.endpoint
        prefix = "/client/v4"
        zone = prefix + "/zones/{zone_id}"
        record = zone + "/dns_records/{record_id}"
        return Starlette(
            routes=[
                Route(prefix + "/zones", e(self.create_zone, write=True), methods=["POST"]),
                Route(prefix + "/zones", e(self.list_zones), methods=["GET"]),
                Route(zone, e(self.get_zone), methods=["GET"]),
                Route(zone, e(self.delete_zone, write=True), methods=["DELETE"]),
                Route(zone + "/dns_records", e(self.create_record, write=True), methods=["POST"]),
                Route(zone + "/dns_records", e(self.list_records), methods=["GET"]),
                Route(record, e(self.get_record), methods=["GET"]),
                Route(record, e(self.put_record, write=True), methods=["PUT"]),
                Route(record, e(self.patch_record, write=True), methods=["PATCH"]),
                Route(record, e(self.delete_record, write=True), methods=["DELETE"]),
                Route("/_sim/reset", self.sim_reset, methods=["POST"]),
                Route("/_sim/config", self.sim_config, methods=["POST"]),
                Route("/_sim/faults", self.sim_faults, methods=["POST"]),
                Route("/_sim/block", self.sim_block, methods=["POST"]),
                Route("/_sim/stats", self.sim_stats, methods=["GET"]),
                Route("/_sim/state", self.sim_state, methods=["GET"]),
            ]
        )


async def _json(request: Request, *, required: bool = True) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        if required:
            raise ApiError(400, 1004, "Request body is required")
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, 6007, "Malformed JSON in request body") from None
    if not isinstance(body, dict):
        raise ApiError(400, 6007, "Malformed JSON in request body")
    return body


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m hospeda.dns.simulator.cloudflare")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--rate-limit", type=int, default=1200)
    parser.add_argument("--rate-window", type=float, default=300.0)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument(
        "--nameservers",
        default=",".join(DEFAULT_NAMESERVERS),
        help="pool of nameserver names assigned to zones",
    )
    args = parser.parse_args(argv)
    simulator = CloudflareSimulator(
        SimState(
            rate_limit=args.rate_limit,
            rate_window_s=args.rate_window,
            tokens={args.token: "edit"},
            nameservers=tuple(n.strip() for n in args.nameservers.split(",") if n.strip()),
        )
    )
    uvicorn.run(
        simulator.app(), host=args.host, port=args.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
