"""All SQL of the dns service."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.contracts.dns import DnsRecord, RecordType
from hospeda.dns.domain import DelegationStatus, ExistingRecord
from hospeda.dns.models import Record, Zone

ACTIVE = ("creating", "active")
VISIBLE = ("creating", "active", "failed")


async def zone_for_update(session: AsyncSession, domain: str) -> Zone | None:
    """The zone row, locked for the rest of the transaction on PostgreSQL
    (SQLite renders no FOR UPDATE: its writers are serialised already)."""
    statement = sa.select(Zone).where(Zone.domain == domain).with_for_update()  # type: ignore[arg-type]
    return (await session.execute(statement)).scalar_one_or_none()


async def zone(session: AsyncSession, domain: str) -> Zone | None:
    statement = sa.select(Zone).where(Zone.domain == domain)  # type: ignore[arg-type]
    return (await session.execute(statement)).scalar_one_or_none()


async def zone_of_service(session: AsyncSession, service_id: UUID) -> Zone | None:
    statement = (
        sa.select(Zone)
        .where(Zone.service_id == service_id, Zone.status.in_(ACTIVE))  # type: ignore[arg-type,attr-defined]
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def zones_page(
    session: AsyncSession,
    *,
    company_id: UUID | None,
    after: str | None,
    limit: int,
    delegation: str | None = None,
) -> list[Zone]:
    statement = (
        sa.select(Zone)
        .where(Zone.status.in_(VISIBLE))  # type: ignore[attr-defined]
        .order_by(Zone.domain)
        .limit(limit)
    )
    if company_id is not None:
        statement = statement.where(Zone.company_id == company_id)  # type: ignore[arg-type]
    if after:
        statement = statement.where(Zone.domain > after)  # type: ignore[arg-type]
    if delegation:
        statement = statement.where(Zone.delegation == delegation)  # type: ignore[arg-type]
    return list((await session.execute(statement)).scalars())


async def records(session: AsyncSession, domain: str) -> list[Record]:
    statement = (
        sa.select(Record)
        .where(Record.domain == domain)  # type: ignore[arg-type]
        .order_by(Record.name, Record.type, Record.id)
    )
    return list((await session.execute(statement)).scalars())


async def records_page(
    session: AsyncSession, domain: str, *, after: int | None, limit: int, rtype: str | None
) -> list[Record]:
    statement = (
        sa.select(Record).where(Record.domain == domain).order_by(Record.id).limit(limit)  # type: ignore[arg-type]
    )
    if after is not None:
        statement = statement.where(Record.id > after)  # type: ignore[arg-type,operator]
    if rtype:
        statement = statement.where(Record.type == rtype)  # type: ignore[arg-type]
    return list((await session.execute(statement)).scalars())


async def existing_records(session: AsyncSession, domain: str) -> list[ExistingRecord]:
    return [
        ExistingRecord(record_id=r.record_id, type=RecordType(r.type), name=r.name)
        for r in await records(session, domain)
    ]


async def record(session: AsyncSession, domain: str, record_id: str) -> Record | None:
    statement = sa.select(Record).where(
        Record.domain == domain,  # type: ignore[arg-type]
        Record.record_id == record_id,  # type: ignore[arg-type]
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def save_record(session: AsyncSession, domain: str, item: DnsRecord, now: datetime) -> None:
    """Insert or replace our copy of ``item`` (idempotent)."""
    existing = await record(session, domain, item.record_id)
    values = {
        "type": item.type.value,
        "name": item.name,
        "content": item.content,
        "ttl": item.ttl,
        "priority": item.priority,
        "proxied": item.proxied,
        "updated_at": now,
    }
    if existing is None:
        session.add(Record(domain=domain, record_id=item.record_id, created_at=now, **values))
    else:
        for key, value in values.items():
            setattr(existing, key, value)
    await session.flush()


async def delete_record(session: AsyncSession, domain: str, record_id: str) -> None:
    await session.execute(
        sa.delete(Record).where(
            Record.domain == domain,  # type: ignore[arg-type]
            Record.record_id == record_id,  # type: ignore[arg-type]
        )
    )


async def delete_records(session: AsyncSession, domain: str) -> None:
    await session.execute(sa.delete(Record).where(Record.domain == domain))  # type: ignore[arg-type]


async def due_rechecks(session: AsyncSession, now: datetime, limit: int) -> list[Zone]:
    """Delegated, lost or failed domains whose next re-verification is due."""
    statement = (
        sa.select(Zone)
        .where(
            Zone.status == "active",  # type: ignore[arg-type]
            Zone.delegation.in_(  # type: ignore[attr-defined]
                [
                    DelegationStatus.VERIFIED.value,
                    DelegationStatus.LOST.value,
                    DelegationStatus.FAILED.value,
                ]
            ),
            Zone.next_recheck_at <= now,  # type: ignore[arg-type,operator]
        )
        .order_by(Zone.next_recheck_at)
        .limit(limit)
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
    )
    return list((await session.execute(statement)).scalars())


def zone_view(zone: Zone) -> dict[str, Any]:
    """A zone as queries show it (JSON)."""
    return {
        "domain": zone.domain,
        "status": zone.status,
        "service_id": str(zone.service_id) if zone.service_id else None,
        "nameservers": list(zone.expected_nameservers or zone.assigned_nameservers),
        "assigned_nameservers": list(zone.assigned_nameservers),
        "delegation": {
            "status": zone.delegation,
            "checked_at": _iso(zone.delegation_checked_at),
            "verified_at": _iso(zone.delegation_verified_at),
            "deadline": _iso(zone.delegation_deadline),
            "found_nameservers": list(zone.delegation_found),
            "problems": list(zone.delegation_problems),
            "warnings": list(zone.delegation_warnings or []),
        },
        "created_at": _iso(zone.created_at),
    }


def record_view(item: Record) -> dict[str, Any]:
    return {
        "record_id": item.record_id,
        "type": item.type,
        "name": item.name,
        "content": item.content,
        "ttl": item.ttl,
        "priority": item.priority,
        "proxied": item.proxied,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
