"""What the notify service consumes: message in → one service call."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa

from hospeda.contracts import Envelope, utcnow
from hospeda.contracts.identity import (
    MembershipGranted,
    MembershipRevoked,
    MembershipRoleChanged,
    UserRegistered,
)
from hospeda.contracts.notify import SendNotification
from hospeda.contracts.ops import PipelineProbe, PipelineProbeCompleted
from hospeda.contracts.topics import IDENTITY_USER, NOTIFY_COMMANDS, OPS_PROBE
from hospeda.notify import service
from hospeda.notify.models import CompletedProbe, Delivery
from hospeda.notify.service import Notifier
from hospeda.runtime.errors import NotFound, PermanentError
from hospeda.runtime.messaging import MessageContext, MessageRouter, QueryContext
from hospeda.runtime.probe import hop


def register(router: MessageRouter, notifier: Notifier) -> None:
    """Add notify's handlers and queries to ``router``."""

    @router.on(NOTIFY_COMMANDS, SendNotification)
    async def send(message: Envelope[Any], ctx: MessageContext) -> None:
        await notifier.request(ctx.session, message)

    @router.on(IDENTITY_USER, UserRegistered)
    async def user_registered(message: Envelope[Any], ctx: MessageContext) -> None:
        user: UserRegistered = message.payload
        await service.remember_person(
            ctx.session,
            user_id=user.user_id,
            email=str(user.email),
            name=user.name,
            locale=user.locale,
        )

    @router.on(IDENTITY_USER, MembershipGranted, MembershipRoleChanged)
    async def membership(message: Envelope[Any], ctx: MessageContext) -> None:
        fact = message.payload
        await service.remember_membership(
            ctx.session, company_id=fact.company_id, user_id=fact.user_id, role=fact.role.value
        )

    @router.on(IDENTITY_USER, MembershipRevoked)
    async def revoked(message: Envelope[Any], ctx: MessageContext) -> None:
        await service.forget_membership(
            ctx.session, company_id=message.payload.company_id, user_id=message.payload.user_id
        )

    @router.on(NOTIFY_COMMANDS, PipelineProbe)
    async def complete_probe(message: Envelope[Any], ctx: MessageContext) -> None:
        probe: PipelineProbe = message.payload
        hops = (*probe.hops, hop("notify"))
        ctx.session.add(
            CompletedProbe(
                probe_id=probe.probe_id,
                correlation_id=message.correlation_id,
                hops=[h.model_dump(mode="json") for h in hops],
                completed_at=utcnow(),
            )
        )
        ctx.emit(
            PipelineProbeCompleted(probe_id=probe.probe_id, hops=hops),
            topic=OPS_PROBE,
            key=probe.probe_id,
        )

    @router.query("probe.get")
    async def get_probe(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        probe = await ctx.session.get(CompletedProbe, _uuid(params.get("probe_id"), "probe_id"))
        if probe is None:
            raise NotFound("sonda não concluída / probe not completed (yet)")
        return {
            "probe_id": str(probe.probe_id),
            "correlation_id": str(probe.correlation_id),
            "hops": probe.hops,
            "completed_at": probe.completed_at.isoformat(),
        }

    @router.query("notifications.list")
    async def list_notifications(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        """The company's delivered notifications, newest first (cursor = last id seen)."""
        if ctx.company_id is None:
            raise PermanentError("company_id is required")
        limit = max(1, min(int(params.get("limit", 50)), 200))
        statement = (
            sa.select(Delivery)
            .where(Delivery.company_id == ctx.company_id)
            .order_by(Delivery.id.desc())
            .limit(limit + 1)  # type: ignore[union-attr]
        )
        if params.get("cursor"):
            statement = statement.where(Delivery.id < int(params["cursor"]))  # type: ignore[operator]
        rows = list((await ctx.session.execute(statement)).scalars())
        items = [
            {
                "notification_id": str(d.notification_id),
                "channel": d.channel,
                "template": d.template,
                "address": d.address,
                "subject": d.subject,
                "sent_at": d.sent_at.isoformat(),
            }
            for d in rows[:limit]
        ]
        return {
            "items": items,
            "next_cursor": str(rows[limit - 1].id) if len(rows) > limit else None,
        }


def _uuid(value: Any, name: str) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise PermanentError(f"{name} must be a UUID") from None
