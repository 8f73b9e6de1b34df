"""DNS: zones and records at the DNS provider, and nameserver delegation checks.

Everything about one domain is keyed by the domain name (lower-case, IDNA
ASCII form), so a domain's commands and events stay in order.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from hospeda.contracts.envelope import Contract, Payload


class RecordType(StrEnum):
    """The record types customers may manage."""

    A = "A"
    AAAA = "AAAA"
    CNAME = "CNAME"
    MX = "MX"
    TXT = "TXT"
    NS = "NS"
    SRV = "SRV"
    CAA = "CAA"


class RecordSpec(Contract):
    """A DNS record as a customer asks for it."""

    type: RecordType
    name: str = Field(
        description="`@` for the apex, or a name relative to the zone.", max_length=253
    )
    content: str = Field(max_length=4096)
    ttl: int = Field(default=3600, description="Seconds; 1 means automatic.")
    priority: int | None = Field(default=None, ge=0, le=65535)
    proxied: bool = False


class DnsRecord(RecordSpec):
    """A DNS record as it exists at the provider."""

    record_id: str


class DomainCommand(Payload):
    """Fields every DNS command carries."""

    domain: str = Field(min_length=1, max_length=253)


class CreateZone(DomainCommand):
    """Create the zone for a new service and its default records."""

    TYPE: ClassVar[str] = "dns.create_zone"
    service_id: UUID | None = None
    server_ip: str = Field(description="Where `@`, `www` and `mail` point.")


class DeleteZone(DomainCommand):
    """Remove a domain's zone (when its service is terminated)."""

    TYPE: ClassVar[str] = "dns.delete_zone"
    service_id: UUID | None = None


class CreateRecord(DomainCommand):
    """Add a record to a domain's zone."""

    TYPE: ClassVar[str] = "dns.create_record"
    record: RecordSpec


class UpdateRecord(DomainCommand):
    """Replace a record of a domain's zone."""

    TYPE: ClassVar[str] = "dns.update_record"
    record_id: str
    record: RecordSpec


class DeleteRecord(DomainCommand):
    """Remove a record from a domain's zone."""

    TYPE: ClassVar[str] = "dns.delete_record"
    record_id: str


class CheckDelegation(DomainCommand):
    """Check now whether the domain's nameservers point at ours."""

    TYPE: ClassVar[str] = "dns.check_delegation"


# --- events (topic dns.zone.v1, key: domain) ---------------------------------


class ZoneCreated(Payload):
    """A zone exists at the provider, with its default records."""

    TYPE: ClassVar[str] = "dns.zone.created"
    domain: str
    zone_id: str
    nameservers: tuple[str, ...]
    service_id: UUID | None = None


class ZoneDeleted(Payload):
    """A zone was removed from the provider."""

    TYPE: ClassVar[str] = "dns.zone.deleted"
    domain: str
    zone_id: str


class RecordCreated(Payload):
    """A record was added to a zone."""

    TYPE: ClassVar[str] = "dns.record.created"
    domain: str
    record: DnsRecord


class RecordUpdated(Payload):
    """A record of a zone changed."""

    TYPE: ClassVar[str] = "dns.record.updated"
    domain: str
    record: DnsRecord


class RecordDeleted(Payload):
    """A record was removed from a zone."""

    TYPE: ClassVar[str] = "dns.record.deleted"
    domain: str
    record_id: str


class RecordRejected(Payload):
    """A customer's record command was refused before reaching the provider;
    ``reason`` says why and how to fix it (pt-BR, then English). The envelope's
    causation id is the refused command's id."""

    TYPE: ClassVar[str] = "dns.record.rejected"
    domain: str
    command: str = Field(description="The refused command's type, e.g. `dns.create_record`.")
    reason: str
    record_id: str | None = None
    record: RecordSpec | None = None


class DelegationPending(Payload):
    """The domain does not point at our nameservers yet; checks go on."""

    TYPE: ClassVar[str] = "dns.delegation.pending"
    domain: str
    expected_nameservers: tuple[str, ...]
    found_nameservers: tuple[str, ...] = ()


class DelegationVerified(Payload):
    """The parent zone delegates to our nameservers and they answer for it."""

    TYPE: ClassVar[str] = "dns.delegation.verified"
    domain: str
    nameservers: tuple[str, ...]


class DelegationFailed(Payload):
    """We stopped waiting: the domain was not delegated in time."""

    TYPE: ClassVar[str] = "dns.delegation.failed"
    domain: str
    expected_nameservers: tuple[str, ...]
    found_nameservers: tuple[str, ...] = ()
    reason: str


class DelegationLost(Payload):
    """A domain that was delegated to us no longer is."""

    TYPE: ClassVar[str] = "dns.delegation.lost"
    domain: str
    expected_nameservers: tuple[str, ...]
    found_nameservers: tuple[str, ...] = ()
