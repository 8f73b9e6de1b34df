"""The permission matrix: the one place that says who may do what.

Every route declares one ``Permission`` (see ``api.allow``); the app refuses
to start if a route has none. A permission has a scope:

- ``public``: anyone, signed in or not (sign-up, login, password reset);
- ``self``: a signed-in person acting on their own account (never an API token);
- ``mfa``: the half-open session between password and 2FA code;
- ``company``: inside the active company — granted by the person's role there,
  or by their staff role while they act on that company (explicit, audited);
- ``platform``: staff only, across companies.
"""

from __future__ import annotations

import functools
from enum import StrEnum

from hospeda.contracts import topics
from hospeda.contracts.identity import CompanyRole


class StaffRole(StrEnum):
    """A Hospeda employee's global role."""

    SUPERADMIN = "superadmin"
    SUPPORT = "support"
    BILLING = "billing"
    OPERATOR = "operator"
    AUDITOR = "auditor"


class Scope(StrEnum):
    PUBLIC = "public"
    SELF = "self"
    MFA = "mfa"
    COMPANY = "company"
    PLATFORM = "platform"


class Permission(StrEnum):
    """What a route needs. The value is what API tokens and OpenAPI show."""

    PUBLIC = "public"
    SELF = "self"
    MFA_PENDING = "mfa:pending"

    COMPANY_READ = "company:read"
    COMPANY_UPDATE = "company:update"
    MEMBERS_READ = "members:read"
    MEMBERS_MANAGE = "members:manage"
    TOKENS_READ = "tokens:read"
    TOKENS_MANAGE = "tokens:manage"
    CATALOG_READ = "catalog:read"
    ORDERS_READ = "orders:read"
    ORDERS_CREATE = "orders:create"
    INVOICES_READ = "invoices:read"
    INVOICES_PAY = "invoices:pay"
    INVOICES_ADJUST = "invoices:adjust"
    SUBSCRIPTIONS_READ = "subscriptions:read"
    SUBSCRIPTIONS_MANAGE = "subscriptions:manage"
    SERVICES_READ = "services:read"
    JOBS_READ = "jobs:read"
    JOBS_OPERATE = "jobs:operate"
    SERVICES_OPERATE = "services:operate"
    DNS_READ = "dns:read"
    DNS_WRITE = "dns:write"
    AUDIT_READ = "audit:read"
    AUDIT_EXPORT = "audit:export"
    EVENTS_STREAM = "events:stream"

    STAFF_COMPANIES = "staff:companies"
    STAFF_JOBS = "staff:jobs"
    STAFF_JOBS_OPERATE = "staff:jobs:operate"
    STAFF_MANAGE = "staff:manage"
    STAFF_TEMPLATES = "staff:templates"


OW, AD, BI, TE, VI = (
    CompanyRole.OWNER,
    CompanyRole.ADMIN,
    CompanyRole.BILLING,
    CompanyRole.TECHNICAL,
    CompanyRole.VIEWER,
)
SA, SU, SB, SO, AU = (
    StaffRole.SUPERADMIN,
    StaffRole.SUPPORT,
    StaffRole.BILLING,
    StaffRole.OPERATOR,
    StaffRole.AUDITOR,
)
EVERY_CUSTOMER = frozenset(CompanyRole)
EVERY_STAFF = frozenset(StaffRole)
NOBODY: frozenset[CompanyRole] = frozenset()

C, PLATFORM, fs = Scope.COMPANY, Scope.PLATFORM, frozenset

# fmt: off
MATRIX: dict[Permission, tuple[Scope, frozenset[CompanyRole], frozenset[StaffRole]]] = {
    # permission                        scope        customer roles          staff roles (acting on the company)
    Permission.PUBLIC:               (Scope.PUBLIC, EVERY_CUSTOMER,         EVERY_STAFF),
    Permission.SELF:                 (Scope.SELF,   EVERY_CUSTOMER,         EVERY_STAFF),
    Permission.MFA_PENDING:          (Scope.MFA,    EVERY_CUSTOMER,         EVERY_STAFF),
    Permission.COMPANY_READ:         (C,            EVERY_CUSTOMER,         EVERY_STAFF),
    Permission.COMPANY_UPDATE:       (C,            fs({OW, AD}),           fs({SA, SU})),
    Permission.MEMBERS_READ:         (C,            fs({OW, AD}),           fs({SA, SU, AU})),
    Permission.MEMBERS_MANAGE:       (C,            fs({OW, AD}),           fs({SA})),
    Permission.TOKENS_READ:          (C,            fs({OW, AD}),           fs({SA, SU, AU})),
    Permission.TOKENS_MANAGE:        (C,            fs({OW, AD}),           fs({SA})),
    Permission.CATALOG_READ:         (C,            EVERY_CUSTOMER,         EVERY_STAFF),
    Permission.ORDERS_READ:          (C,            fs({OW, AD, BI, VI}),   fs({SA, SU, SB, AU})),
    Permission.ORDERS_CREATE:        (C,            fs({OW, AD, BI}),       fs({SA})),
    Permission.INVOICES_READ:        (C,            fs({OW, AD, BI, VI}),   fs({SA, SU, SB, AU})),
    Permission.INVOICES_PAY:         (C,            fs({OW, AD, BI}),       fs({SA})),
    Permission.INVOICES_ADJUST:      (C,            NOBODY,                 fs({SA, SB})),
    Permission.SUBSCRIPTIONS_READ:   (C,            EVERY_CUSTOMER,         EVERY_STAFF),
    Permission.SUBSCRIPTIONS_MANAGE: (C,            fs({OW, AD, BI}),       fs({SA, SB})),
    Permission.SERVICES_READ:        (C,            EVERY_CUSTOMER,         EVERY_STAFF),
    Permission.JOBS_READ:            (C,            fs({OW, AD, TE, VI}),   fs({SA, SU, SO, AU})),
    Permission.JOBS_OPERATE:         (C,            NOBODY,                 fs({SA, SO})),
    # suspending a site (abuse, malware) or lifting that: operators acting on the company
    Permission.SERVICES_OPERATE:     (C,            NOBODY,                 fs({SA, SO})),
    Permission.DNS_READ:             (C,            fs({OW, AD, TE, VI}),   fs({SA, SU, SO, AU})),
    Permission.DNS_WRITE:            (C,            fs({OW, AD, TE}),       fs({SA, SO})),
    # the audit trail: its company's owners and admins, and staff auditors acting on it
    # (explicitly, with a reason, itself audited); not even a superadmin reads it otherwise
    Permission.AUDIT_READ:           (C,            fs({OW, AD}),           fs({AU})),
    Permission.AUDIT_EXPORT:         (C,            fs({OW, AD}),           fs({AU})),
    Permission.EVENTS_STREAM:        (C,            EVERY_CUSTOMER,         EVERY_STAFF),
    Permission.STAFF_COMPANIES:      (PLATFORM,     NOBODY,                 EVERY_STAFF),
    Permission.STAFF_JOBS:           (PLATFORM,     NOBODY,                 fs({SA, SU, SO, AU})),
    Permission.STAFF_JOBS_OPERATE:   (PLATFORM,     NOBODY,                 fs({SA, SO})),
    Permission.STAFF_MANAGE:         (PLATFORM,     NOBODY,                 fs({SA})),
    Permission.STAFF_TEMPLATES:      (PLATFORM,     NOBODY,                 EVERY_STAFF),
}
# fmt: on


def scope_of(permission: Permission) -> Scope:
    return MATRIX[permission][0]


# the matrix is fixed: each role's set is computed once, not on every request
@functools.cache
def company_permissions(role: CompanyRole) -> frozenset[Permission]:
    """What a member with ``role`` may do in their company."""
    return frozenset(
        p for p, (scope, roles, _) in MATRIX.items() if scope is Scope.COMPANY and role in roles
    )


@functools.cache
def staff_company_permissions(role: StaffRole) -> frozenset[Permission]:
    """What a staff member may do inside the company they act on."""
    return frozenset(
        p for p, (scope, _, roles) in MATRIX.items() if scope is Scope.COMPANY and role in roles
    )


@functools.cache
def platform_permissions(role: StaffRole) -> frozenset[Permission]:
    """What a staff member may do across companies."""
    return frozenset(
        p for p, (scope, _, roles) in MATRIX.items() if scope is Scope.PLATFORM and role in roles
    )


TOKEN_GRANTABLE: frozenset[Permission] = frozenset(
    p
    for p, (scope, _, _) in MATRIX.items()
    if scope is Scope.COMPANY and p not in (Permission.MEMBERS_MANAGE, Permission.TOKENS_MANAGE)
)
"""Company permissions an API token may carry: never the power to add people or
mint more tokens, so a leaked token cannot entrench itself."""


TOPIC_PERMISSIONS: dict[str, Permission] = {
    topics.BILLING_ORDER.name: Permission.ORDERS_READ,
    topics.BILLING_INVOICE.name: Permission.INVOICES_READ,
    topics.BILLING_PAYMENT.name: Permission.INVOICES_READ,
    topics.BILLING_SUBSCRIPTION.name: Permission.SUBSCRIPTIONS_READ,
    topics.PROVISIONING_SERVICE.name: Permission.SERVICES_READ,
    topics.PROVISIONING_JOB.name: Permission.JOBS_READ,
    topics.DNS_ZONE.name: Permission.DNS_READ,
    topics.DNS_JOB.name: Permission.DNS_READ,
    topics.IDENTITY_USER.name: Permission.MEMBERS_READ,
    topics.OPS_COMMAND.name: Permission.COMPANY_READ,  # why a command someone sent was refused
}
"""Event topics the live stream relays, and what a person needs to see each."""


PERSONAL_TOPICS: frozenset[str] = frozenset({topics.NOTIFY_INBOX.name})
"""Event topics the live stream relays to one person (``payload.user_id``) on
whichever company they have open, never to anyone else."""


def may_see(topic: str, permissions: frozenset[Permission]) -> bool:
    """Whether someone holding ``permissions`` may see an event of ``topic``."""
    needed = TOPIC_PERMISSIONS.get(topic)
    return needed is not None and needed in permissions
