"""Every topic of the platform, what travels on it and how it is keyed.

This is the single registry: brokers create topics from it, consumers
subscribe from it, and the JSON Schemas and AsyncAPI document are generated
from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hospeda.contracts import audit, billing, dns, identity, notify, ops, provisioning
from hospeda.contracts.envelope import Payload
from hospeda.contracts.jobs import JOB_COMMANDS, JOB_EVENTS
from hospeda.contracts.queries import Query


@dataclass(frozen=True)
class Topic:
    """A Kafka topic: its name, what its messages are keyed by, and which
    message types it carries."""

    name: str
    key: str
    description: str
    messages: tuple[type[Payload], ...]
    producer: str

    @property
    def dlq(self) -> str:
        """Where messages of this topic that cannot be handled are parked."""
        return f"{self.name}.dlq"


def _commands(service: str, *messages: type[Payload], key: str, jobs: bool = False) -> Topic:
    return Topic(
        name=f"{service}.commands.v1",
        key=key,
        description=f"Commands for the {service} service.",
        messages=(*messages, ops.PipelineProbe, *(JOB_COMMANDS if jobs else ())),
        producer="gateway and services",
    )


def _jobs(service: str) -> Topic:
    return Topic(
        name=f"{service}.job.v1",
        key="job id",
        description=f"Lifecycle of the {service} service's durable jobs (live progress).",
        messages=JOB_EVENTS,
        producer=service,
    )


def _queries(service: str) -> Topic:
    return Topic(
        name=f"{service}.queries.v1",
        key="company id",
        description=f"Read-only questions to the {service} service; answers go to the reply-to topic.",
        messages=(Query,),
        producer="gateway",
    )


IDENTITY_COMPANY = Topic(
    "identity.company.v1",
    "company id",
    "Companies (tenants).",
    (identity.CompanyRegistered, identity.CompanyUpdated),
    "gateway",
)
IDENTITY_USER = Topic(
    "identity.user.v1",
    "user id",
    "People and their memberships.",
    (
        identity.UserRegistered,
        identity.MembershipGranted,
        identity.MembershipRoleChanged,
        identity.MembershipRevoked,
        identity.StaffRoleChanged,
    ),
    "gateway",
)
BILLING_COMMANDS = _commands(
    "billing",
    billing.PlaceOrder,
    billing.PayInvoice,
    billing.PurchaseAddon,
    billing.ChangeSubscription,
    billing.CancelSubscription,
    billing.RefundInvoice,
    billing.VoidInvoice,
    billing.ConfirmPayment,
    billing.PublishCatalogItem,
    billing.RetireCatalogItem,
    billing.RecordPixPayment,
    key="company id (job commands: job id)",
    jobs=True,
)
BILLING_JOB = _jobs("billing")
BILLING_CATALOG = Topic(
    "billing.catalog.v1",
    "product code",
    "Plans and add-ons with current prices: the marketplace.",
    (billing.CatalogItemPublished, billing.CatalogItemRetired),
    "billing",
)
BILLING_ORDER = Topic("billing.order.v1", "order id", "Orders.", (billing.OrderPlaced,), "billing")
BILLING_INVOICE = Topic(
    "billing.invoice.v1",
    "invoice id",
    "Invoice lifecycle.",
    (
        billing.InvoiceIssued,
        billing.InvoicePaid,
        billing.InvoiceOverdue,
        billing.InvoiceVoided,
        billing.InvoiceRefunded,
    ),
    "billing",
)
BILLING_PAYMENT = Topic(
    "billing.payment.v1",
    "payment id",
    "Payments by card and Pix.",
    (billing.PaymentSucceeded, billing.PaymentFailed, billing.PaymentRefunded),
    "billing",
)
BILLING_SUBSCRIPTION = Topic(
    "billing.subscription.v1",
    "subscription id",
    "Plan and add-on subscriptions.",
    (
        billing.SubscriptionActivated,
        billing.SubscriptionRenewed,
        billing.SubscriptionChanged,
        billing.SubscriptionCancelled,
        billing.SubscriptionSuspended,
        billing.SubscriptionUndelivered,
        billing.SubscriptionReactivated,
        billing.SubscriptionTerminated,
    ),
    "billing",
)
PROVISIONING_COMMANDS = _commands(
    "provisioning",
    provisioning.CreateAccount,
    provisioning.SuspendAccount,
    provisioning.UnsuspendAccount,
    provisioning.TerminateAccount,
    provisioning.ChangePackage,
    provisioning.ResetPassword,
    provisioning.EnableAddon,
    provisioning.DisableAddon,
    provisioning.ChangeAddon,
    key="service id (job commands: job id)",
    jobs=True,
)
PROVISIONING_JOB = _jobs("provisioning")
PROVISIONING_SERVICE = Topic(
    "provisioning.service.v1",
    "service id",
    "State of hosting accounts and their add-ons.",
    (
        provisioning.ServiceActivated,
        provisioning.ServiceSuspended,
        provisioning.ServiceUnsuspended,
        provisioning.ServiceTerminated,
        provisioning.ServiceProvisioningFailed,
        provisioning.ServicePackageChanged,
        provisioning.AddonEnabled,
        provisioning.AddonDisabled,
        provisioning.AddonChanged,
    ),
    "provisioning",
)
DNS_COMMANDS = _commands(
    "dns",
    dns.CreateZone,
    dns.DeleteZone,
    dns.CreateRecord,
    dns.UpdateRecord,
    dns.DeleteRecord,
    dns.CheckDelegation,
    key="domain (job commands: job id)",
    jobs=True,
)
DNS_JOB = _jobs("dns")
DNS_ZONE = Topic(
    "dns.zone.v1",
    "domain",
    "Zones, records and nameserver delegation.",
    (
        dns.ZoneCreated,
        dns.ZoneDeleted,
        dns.RecordCreated,
        dns.RecordUpdated,
        dns.RecordDeleted,
        dns.RecordRejected,
        dns.DelegationPending,
        dns.DelegationVerified,
        dns.DelegationFailed,
        dns.DelegationLost,
    ),
    "dns",
)
NOTIFY_COMMANDS = _commands(
    "notify",
    notify.SendNotification,
    notify.MarkInboxItems,
    notify.ChangeNotificationSettings,
    notify.Unsubscribe,
    notify.RegisterPushSubscription,
    notify.RemovePushSubscription,
    key="notification id (a person's commands: user id; job commands: job id)",
    jobs=True,
)
NOTIFY_JOB = _jobs("notify")
NOTIFY_NOTIFICATION = Topic(
    "notify.notification.v1",
    "notification id",
    "Delivery results.",
    (notify.NotificationSent, notify.NotificationFailed),
    "notify",
)
NOTIFY_DELIVERY = Topic(
    "notify.delivery.v1",
    "notification id",
    "Each delivery's status: one channel to one person or address — sent, held, skipped, failed.",
    (notify.DeliveryStatusChanged,),
    "notify",
)
NOTIFY_INBOX = Topic(
    "notify.inbox.v1",
    "user id",
    "People's in-app inbox: items kept and marked (the web app shows them live).",
    (notify.InboxItemCreated, notify.InboxItemMarked),
    "notify",
)
NOTIFY_PERSON = Topic(
    "notify.person.v1",
    "user id",
    "People's notification settings and web push devices.",
    (
        notify.NotificationSettingsChanged,
        notify.PushSubscriptionRegistered,
        notify.PushSubscriptionRemoved,
    ),
    "notify",
)
AUDIT_RECORDS = Topic(
    "audit.records.v1",
    "company id (`platform` for platform-wide actions)",
    "Explicit audit entries from the gateway and services.",
    (audit.AuditRecord,),
    "gateway and services",
)
AUDIT_LOG = Topic(
    "audit.log.v1",
    "log origin (erasures: subject id)",
    "The audit log's own facts: signed checkpoints (at least every minute) and erasures.",
    (audit.CheckpointSigned, audit.SubjectErased),
    "audit",
)
OPS_ALERT = Topic(
    "ops.alert.v1",
    "source service",
    "Alerts for operators.",
    (ops.OperatorAlertRaised,),
    "any service",
)
OPS_COMMAND = Topic(
    "ops.command.v1",
    "company id",
    "Commands a service refused, and why, for the people who sent them (live in the web app).",
    (ops.CommandRejected,),
    "any service",
)
OPS_PROBE = Topic(
    "ops.probe.v1",
    "probe id",
    "Completed pipeline probes (the platform's end-to-end self test).",
    (ops.PipelineProbeCompleted,),
    "notify",
)

QUERY_TOPICS: dict[str, Topic] = {
    service: _queries(service) for service in ("billing", "provisioning", "dns", "notify", "audit")
}

TOPICS: tuple[Topic, ...] = (
    IDENTITY_COMPANY,
    IDENTITY_USER,
    BILLING_COMMANDS,
    BILLING_JOB,
    BILLING_CATALOG,
    BILLING_ORDER,
    BILLING_INVOICE,
    BILLING_PAYMENT,
    BILLING_SUBSCRIPTION,
    PROVISIONING_COMMANDS,
    PROVISIONING_JOB,
    PROVISIONING_SERVICE,
    DNS_COMMANDS,
    DNS_JOB,
    DNS_ZONE,
    NOTIFY_COMMANDS,
    NOTIFY_JOB,
    NOTIFY_NOTIFICATION,
    NOTIFY_DELIVERY,
    NOTIFY_INBOX,
    NOTIFY_PERSON,
    AUDIT_RECORDS,
    AUDIT_LOG,
    OPS_ALERT,
    OPS_COMMAND,
    OPS_PROBE,
    *QUERY_TOPICS.values(),
)
"""Every topic, in documentation order."""

TOPICS_BY_NAME: dict[str, Topic] = {topic.name: topic for topic in TOPICS}


def topic(name: str) -> Topic:
    """The registered topic called ``name`` (KeyError names the unknown topic)."""
    return TOPICS_BY_NAME[name]


def job_topic(service: str) -> Topic:
    """The job-event topic of ``service``."""
    return TOPICS_BY_NAME[f"{service}.job.v1"]
