"""What the notify service consumes: message in → one service call."""

from __future__ import annotations

from typing import Any

from hospeda.contracts import Envelope, utcnow
from hospeda.contracts.identity import (
    CompanyRegistered,
    CompanyUpdated,
    MembershipGranted,
    MembershipRevoked,
    MembershipRoleChanged,
    StaffRoleChanged,
    UserRegistered,
)
from hospeda.contracts.notify import (
    ChangeNotificationSettings,
    MarkInboxItems,
    RegisterPushSubscription,
    RemovePushSubscription,
    SendNotification,
    Unsubscribe,
)
from hospeda.contracts.ops import OperatorAlertRaised, PipelineProbe, PipelineProbeCompleted
from hospeda.contracts.provisioning import ServiceProvisioningFailed
from hospeda.contracts.topics import (
    IDENTITY_COMPANY,
    IDENTITY_USER,
    NOTIFY_COMMANDS,
    OPS_ALERT,
    OPS_PROBE,
    PROVISIONING_SERVICE,
)
from hospeda.notify import queries
from hospeda.notify.models import CompletedProbe
from hospeda.notify.service import people
from hospeda.notify.service.alerts import Alerts
from hospeda.notify.service.delivery import Notifier
from hospeda.runtime.jobs_api import expose_jobs
from hospeda.runtime.messaging import MessageContext, MessageRouter, QueryContext
from hospeda.runtime.probe import hop


def build_router(
    notifier: Notifier, alerts: Alerts, *, vapid_public_key: str, router: MessageRouter
) -> MessageRouter:
    """Notify's handlers and queries, on ``router``."""
    expose_jobs(router, notifier.engine, commands=NOTIFY_COMMANDS)
    links = notifier.links

    @router.on(NOTIFY_COMMANDS, SendNotification)
    async def send(message: Envelope[Any], ctx: MessageContext) -> None:
        await notifier.request(ctx.session, message)

    @router.on(OPS_ALERT, OperatorAlertRaised)
    async def alert(message: Envelope[Any], ctx: MessageContext) -> None:
        await alerts.alert_raised(ctx)

    @router.on(PROVISIONING_SERVICE, ServiceProvisioningFailed)
    async def provisioning_failed(message: Envelope[Any], ctx: MessageContext) -> None:
        await alerts.provisioning_failed(ctx)

    # --- a person's own settings, devices and inbox ------------------------------------------

    @router.on(NOTIFY_COMMANDS, ChangeNotificationSettings)
    async def change_settings(message: Envelope[Any], ctx: MessageContext) -> None:
        await people.change_settings(ctx, people.acting_person(message), message.payload)

    @router.on(NOTIFY_COMMANDS, Unsubscribe)
    async def unsubscribe(message: Envelope[Any], ctx: MessageContext) -> None:
        await people.unsubscribe(ctx, links, message.payload.token)

    @router.on(NOTIFY_COMMANDS, RegisterPushSubscription)
    async def register_device(message: Envelope[Any], ctx: MessageContext) -> None:
        await people.register_device(ctx, people.acting_person(message), message.payload)

    @router.on(NOTIFY_COMMANDS, RemovePushSubscription)
    async def remove_device(message: Envelope[Any], ctx: MessageContext) -> None:
        await people.remove_device(ctx, people.acting_person(message), message.payload)

    @router.on(NOTIFY_COMMANDS, MarkInboxItems)
    async def mark(message: Envelope[Any], ctx: MessageContext) -> None:
        await people.mark_items(ctx, people.acting_person(message), message.payload)

    # --- who people are ----------------------------------------------------------------------

    @router.on(IDENTITY_USER, UserRegistered)
    async def user_registered(message: Envelope[Any], ctx: MessageContext) -> None:
        user: UserRegistered = message.payload
        await people.remember_person(
            ctx.session,
            user_id=user.user_id,
            email=str(user.email),
            name=user.name,
            locale=user.locale,
        )

    @router.on(IDENTITY_USER, MembershipGranted, MembershipRoleChanged)
    async def membership(message: Envelope[Any], ctx: MessageContext) -> None:
        fact = message.payload
        await people.remember_membership(
            ctx.session, company_id=fact.company_id, user_id=fact.user_id, role=fact.role.value
        )

    @router.on(IDENTITY_USER, MembershipRevoked)
    async def revoked(message: Envelope[Any], ctx: MessageContext) -> None:
        fact = message.payload
        await people.forget_membership(
            ctx.session, company_id=fact.company_id, user_id=fact.user_id
        )

    @router.on(IDENTITY_USER, StaffRoleChanged)
    async def staff_role(message: Envelope[Any], ctx: MessageContext) -> None:
        fact = message.payload
        await people.remember_staff_role(ctx.session, user_id=fact.user_id, role=fact.role)

    @router.on(IDENTITY_COMPANY, CompanyRegistered, CompanyUpdated)
    async def company(message: Envelope[Any], ctx: MessageContext) -> None:
        fact = message.payload
        await people.remember_company(
            ctx.session, company_id=fact.company_id, name=fact.name, locale=fact.locale
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

    # --- queries -------------------------------------------------------------------------------

    @router.query("probe.get")
    async def get_probe(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        return await queries.get_probe(params, ctx)

    @router.query("notifications.list")
    async def list_notifications(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        return await queries.list_deliveries(params, ctx)

    @router.query("inbox.list")
    async def list_inbox(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        return await queries.list_inbox(params, ctx)

    @router.query("notification_settings.get")
    async def get_settings(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        return await queries.get_settings(params, ctx)

    @router.query("push_subscriptions.list")
    async def list_devices(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        return await queries.list_devices(params, ctx)

    @router.query("push.config")
    async def push_config(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        return queries.push_config(vapid_public_key)

    @router.query("unsubscribe.check")
    async def check_unsubscribe(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        return queries.check_unsubscribe(params, links)

    @router.query("templates.list")
    async def list_templates(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        return queries.list_templates(ctx)

    @router.query("templates.preview")
    async def preview_template(params: dict[str, Any], ctx: QueryContext) -> dict[str, Any]:
        return queries.preview_template(params, ctx, links)

    return router
