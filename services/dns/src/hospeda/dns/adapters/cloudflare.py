"""Zones and records at Cloudflare through the official SDK.

Every request first takes a slot from the shared rate limiter; a 429 pauses
every worker of the token for its ``Retry-After``. "Already exists" answers
(1061 for zones, 81057/81058 for records) are looked up and returned as
success, so each step can be retried safely.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import cloudflare
from cloudflare import AsyncCloudflare

from hospeda.contracts.dns import DnsRecord, RecordSpec, RecordType
from hospeda.dns.adapters.ratelimit import RateLimiter
from hospeda.dns.domain import fqdn, relative_from_fqdn
from hospeda.runtime import metrics
from hospeda.runtime.errors import PermanentError

log = logging.getLogger(__name__)

T = TypeVar("T")

ZONE_EXISTS = {1061}
RECORD_EXISTS = {81057, 81058}
NOT_FOUND = {1001, 7003, 81044}
AUTH_ERRORS = {6003, 6111, 9103, 9106, 9109, 10000}


@dataclass(frozen=True)
class ProviderZone:
    """A zone as the provider knows it."""

    zone_id: str
    name: str
    nameservers: tuple[str, ...]
    status: str


class DnsProvider(Protocol):
    """What the dns service needs from a DNS host."""

    async def ensure_zone(self, domain: str) -> ProviderZone: ...
    async def find_zone(self, domain: str) -> ProviderZone | None: ...
    async def delete_zone(self, zone_id: str) -> None: ...
    async def ensure_record(self, zone_id: str, domain: str, record: RecordSpec) -> DnsRecord: ...
    async def update_record(
        self, zone_id: str, domain: str, record_id: str, record: RecordSpec
    ) -> DnsRecord: ...
    async def delete_record(self, zone_id: str, record_id: str) -> None: ...
    async def close(self) -> None: ...


class ProviderError(Exception):
    """Cloudflare answered with an error worth retrying (5xx, repeated 429)."""


def error_codes(exc: cloudflare.APIStatusError) -> set[int]:
    body = exc.body if isinstance(exc.body, dict) else {}
    codes: set[int] = set()
    for error in body.get("errors") or ():
        if isinstance(error, dict) and isinstance(error.get("code"), int):
            codes.add(error["code"])
            for link in error.get("error_chain") or ():
                if isinstance(link, dict) and isinstance(link.get("code"), int):
                    codes.add(link["code"])
    return codes


def error_text(exc: cloudflare.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    parts = [
        f"{e.get('code')}: {e.get('message')}"
        for e in body.get("errors") or ()
        if isinstance(e, dict)
    ]
    return "; ".join(parts) or f"HTTP {exc.status_code}"


def _retry_after(exc: cloudflare.APIStatusError) -> float:
    value = exc.response.headers.get("retry-after", "")
    try:
        return max(float(value), 0.1)
    except ValueError:
        return 60.0


class CloudflareProvider:
    """``DnsProvider`` on Cloudflare's API v4 (or a simulator at ``base_url``)."""

    def __init__(
        self,
        *,
        api_token: str,
        account_id: str,
        limiter: RateLimiter,
        base_url: str | None = None,
        timeout: float = 15.0,
        max_429_waits: int = 5,
    ) -> None:
        metrics.name_provider("cloudflare", base_url)
        self.client = AsyncCloudflare(
            api_token=api_token,
            base_url=base_url or None,
            timeout=timeout,
            max_retries=0,  # retries are the job engine's; 429s are the limiter's
        )
        self.account_id = account_id
        self.limiter = limiter
        self.max_429_waits = max_429_waits
        self.requests = 0

    async def close(self) -> None:
        await self.client.close()

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T:
        waits = 0
        while True:
            await self.limiter.acquire()
            self.requests += 1
            try:
                return await request()
            except cloudflare.RateLimitError as exc:
                pause = _retry_after(exc)
                await self.limiter.pause(pause)
                waits += 1
                log.warning("Cloudflare rate limit reached; every worker waits %.1fs", pause)
                if waits > self.max_429_waits:
                    raise ProviderError(
                        f"Cloudflare continua limitando (429) após {waits} esperas / still rate limited after {waits} waits"
                    ) from None
            except cloudflare.APIStatusError as exc:
                codes = error_codes(exc)
                if codes & AUTH_ERRORS or exc.status_code in (401, 403):
                    raise PermanentError(
                        "Cloudflare recusou as credenciais; verifique DNS_CLOUDFLARE_API_TOKEN e as permissões do token / "
                        f"Cloudflare refused the credentials; check DNS_CLOUDFLARE_API_TOKEN and its permissions ({error_text(exc)})"
                    ) from None
                if exc.status_code >= 500:
                    raise ProviderError(f"Cloudflare {error_text(exc)}") from None
                raise

    # --- zones ---------------------------------------------------------------------------

    async def ensure_zone(self, domain: str) -> ProviderZone:
        try:
            zone = await self._call(
                lambda: self.client.zones.create(
                    account={"id": self.account_id}, name=domain, type="full"
                )
            )
        except cloudflare.APIStatusError as exc:
            if not error_codes(exc) & ZONE_EXISTS:
                raise PermanentError(
                    f"Cloudflare recusou a zona {domain} / refused zone {domain}: {error_text(exc)}"
                ) from None
            existing = await self.find_zone(domain)
            if existing is None:
                raise ProviderError(
                    f"Cloudflare diz que {domain} já existe, mas não o encontramos nesta conta / "
                    f"says {domain} exists but it is not in this account"
                ) from None
            return existing
        assert zone is not None
        return _zone(zone)

    async def find_zone(self, domain: str) -> ProviderZone | None:
        page = await self._call(
            lambda: self.client.zones.list(account={"id": self.account_id}, name=domain)
        )
        for zone in page.result:
            if zone.name == domain:
                return _zone(zone)
        return None

    async def delete_zone(self, zone_id: str) -> None:
        try:
            await self._call(lambda: self.client.zones.delete(zone_id=zone_id))
        except cloudflare.APIStatusError as exc:
            if exc.status_code == 404 or error_codes(exc) & NOT_FOUND:
                return  # already gone
            raise PermanentError(f"Cloudflare: {error_text(exc)}") from None

    # --- records -------------------------------------------------------------------------

    async def ensure_record(self, zone_id: str, domain: str, record: RecordSpec) -> DnsRecord:
        body = _record_body(domain, record)
        try:
            created = await self._call(
                lambda: self.client.dns.records.create(zone_id=zone_id, **body)
            )
        except cloudflare.APIStatusError as exc:
            if not error_codes(exc) & RECORD_EXISTS:
                raise PermanentError(
                    f"Cloudflare recusou o registro / refused the record: {error_text(exc)}"
                ) from None
            found = await self._find_record(zone_id, domain, record)
            if found is None:
                raise ProviderError(
                    "Cloudflare diz que o registro já existe, mas não o encontramos / says the record exists but it was not found"
                ) from None
            return found
        return _record(created, domain)

    async def _find_record(self, zone_id: str, domain: str, record: RecordSpec) -> DnsRecord | None:
        page_number = 1
        while True:
            page = await self._call(
                lambda n=page_number: self.client.dns.records.list(  # type: ignore[misc]
                    zone_id=zone_id,
                    name={"exact": fqdn(record.name, domain)},
                    type=record.type.value,
                    page=n,
                    per_page=100,
                )
            )
            for item in page.result:
                candidate = _record(item, domain)
                if candidate.content == record.content and (
                    candidate.priority == record.priority or record.priority is None
                ):
                    return candidate
            if len(page.result) < 100:
                return None
            page_number += 1

    async def update_record(
        self, zone_id: str, domain: str, record_id: str, record: RecordSpec
    ) -> DnsRecord:
        body = _record_body(domain, record)
        try:
            updated = await self._call(
                lambda: self.client.dns.records.update(record_id, zone_id=zone_id, **body)
            )
        except cloudflare.APIStatusError as exc:
            if exc.status_code == 404 or error_codes(exc) & NOT_FOUND:
                raise PermanentError(
                    f"o registro {record_id} não existe mais na Cloudflare / record {record_id} no longer exists at Cloudflare"
                ) from None
            raise PermanentError(
                f"Cloudflare recusou a alteração / refused the change: {error_text(exc)}"
            ) from None
        return _record(updated, domain)

    async def delete_record(self, zone_id: str, record_id: str) -> None:
        try:
            await self._call(lambda: self.client.dns.records.delete(record_id, zone_id=zone_id))
        except cloudflare.APIStatusError as exc:
            if exc.status_code == 404 or error_codes(exc) & NOT_FOUND:
                return  # already gone
            raise PermanentError(f"Cloudflare: {error_text(exc)}") from None


def _zone(zone: Any) -> ProviderZone:
    return ProviderZone(
        zone_id=zone.id,
        name=zone.name,
        nameservers=tuple(ns.lower().rstrip(".") for ns in zone.name_servers or ()),
        status=zone.status or "pending",
    )


def _record_body(domain: str, record: RecordSpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": fqdn(record.name, domain),
        "type": record.type.value,
        "ttl": record.ttl,
    }
    if record.type is RecordType.SRV:
        weight, port, target = record.content.split()
        body["data"] = {
            "priority": record.priority,
            "weight": int(weight),
            "port": int(port),
            "target": target,
        }
    elif record.type is RecordType.CAA:
        flags, tag, value = record.content.split(" ", 2)
        body["data"] = {"flags": int(flags), "tag": tag, "value": value.strip('"')}
    else:
        body["content"] = record.content
    if record.type is RecordType.MX:
        body["priority"] = record.priority
    if record.proxied:
        body["proxied"] = True
    return body


def _record(item: Any, domain: str) -> DnsRecord:
    rtype = RecordType(item.type)
    data = getattr(item, "data", None)
    content = item.content or ""
    priority = getattr(item, "priority", None)
    if rtype is RecordType.SRV and data is not None:
        content = f"{int(data.weight)} {int(data.port)} {data.target}"
        priority = data.priority
    elif rtype is RecordType.CAA and data is not None:
        content = f'{int(data.flags)} {data.tag} "{data.value}"'
    return DnsRecord(
        record_id=item.id,
        type=rtype,
        name=relative_from_fqdn(item.name, domain),
        content=content,
        ttl=int(item.ttl),
        priority=int(priority) if priority is not None else None,
        proxied=bool(getattr(item, "proxied", False)),
    )
