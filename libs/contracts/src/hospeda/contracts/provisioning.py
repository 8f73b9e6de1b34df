"""Provisioning: hosting accounts (cPanel/WHM) and their add-ons.

Commands arrive on ``provisioning.commands.v1`` keyed by service id, so the
commands for one account run in the order they were sent.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import Field

from hospeda.contracts.envelope import Payload


class ServiceCommand(Payload):
    """Fields every provisioning command carries."""

    service_id: UUID = Field(description="The hosting service (one cPanel account).")


class CreateAccount(ServiceCommand):
    """Create the hosting account, its database, mailboxes and SSL."""

    TYPE: ClassVar[str] = "provisioning.create_account"
    subscription_id: UUID | None = None
    domain: str = Field(min_length=1, max_length=253)
    plan_code: str = Field(min_length=1, max_length=64)
    whm_package: str = Field(min_length=1, max_length=64)
    contact_email: str = Field(min_length=3, max_length=254)


class SuspendAccount(ServiceCommand):
    """Suspend the account (the site stops serving)."""

    TYPE: ClassVar[str] = "provisioning.suspend_account"
    reason: str = Field(min_length=1, max_length=500)


class UnsuspendAccount(ServiceCommand):
    """Lift a suspension."""

    TYPE: ClassVar[str] = "provisioning.unsuspend_account"


class TerminateAccount(ServiceCommand):
    """Remove the account and everything in it."""

    TYPE: ClassVar[str] = "provisioning.terminate_account"
    reason: str = Field(min_length=1, max_length=500)


class ChangePackage(ServiceCommand):
    """Move the account to another plan's WHM package."""

    TYPE: ClassVar[str] = "provisioning.change_package"
    plan_code: str = Field(min_length=1, max_length=64)
    whm_package: str = Field(min_length=1, max_length=64)


class ResetPassword(ServiceCommand):
    """Set a new cPanel password and send the customer a way to use it
    (never the password in an event or a log)."""

    TYPE: ClassVar[str] = "provisioning.reset_password"


class EnableAddon(ServiceCommand):
    """Turn an add-on on for a service (e.g. Backup Pro)."""

    TYPE: ClassVar[str] = "provisioning.enable_addon"
    addon_code: str = Field(min_length=1, max_length=64)
    subscription_id: UUID | None = None


class DisableAddon(ServiceCommand):
    """Turn an add-on off for a service."""

    TYPE: ClassVar[str] = "provisioning.disable_addon"
    addon_code: str = Field(min_length=1, max_length=64)
    subscription_id: UUID | None = None


class ChangeAddon(ServiceCommand):
    """Upgrade or downgrade an add-on (e.g. Backup → Backup Pro)."""

    TYPE: ClassVar[str] = "provisioning.change_addon"
    from_code: str = Field(min_length=1, max_length=64)
    to_code: str = Field(min_length=1, max_length=64)
    subscription_id: UUID | None = None


# --- service state (topic provisioning.service.v1, key: service id) ----------


class ServiceActivated(Payload):
    """Every step of account creation succeeded; the account is live. Key: service id."""

    TYPE: ClassVar[str] = "provisioning.service.activated"
    service_id: UUID
    domain: str
    server: str = Field(description="The WHM server's name in the inventory.")
    server_ip: str
    username: str


class ServiceSuspended(Payload):
    """The account is suspended. Key: service id."""

    TYPE: ClassVar[str] = "provisioning.service.suspended"
    service_id: UUID
    reason: str


class ServiceUnsuspended(Payload):
    """The account serves again. Key: service id."""

    TYPE: ClassVar[str] = "provisioning.service.unsuspended"
    service_id: UUID


class ServiceTerminated(Payload):
    """The account was removed. Key: service id."""

    TYPE: ClassVar[str] = "provisioning.service.terminated"
    service_id: UUID
    domain: str | None = None


class ServiceProvisioningFailed(Payload):
    """A provisioning job gave up; an operator was alerted. Key: service id."""

    TYPE: ClassVar[str] = "provisioning.service.failed"
    service_id: UUID
    job_id: UUID
    reason: str
    job_kind: str | None = Field(
        default=None,
        description="What gave up, e.g. `create-account`, `suspend-account`, `enable-addon`.",
    )
    domain: str | None = Field(default=None, description="The account's domain, when known.")
    addon_code: str | None = Field(
        default=None, description="The add-on an `enable-addon` or `change-addon` job was for."
    )


class ServicePackageChanged(Payload):
    """The account moved to another package. Key: service id."""

    TYPE: ClassVar[str] = "provisioning.service.package_changed"
    service_id: UUID
    plan_code: str
    whm_package: str


class AddonEnabled(Payload):
    """An add-on is on for a service. Key: service id."""

    TYPE: ClassVar[str] = "provisioning.addon.enabled"
    service_id: UUID
    addon_code: str


class AddonDisabled(Payload):
    """An add-on is off for a service. Key: service id."""

    TYPE: ClassVar[str] = "provisioning.addon.disabled"
    service_id: UUID
    addon_code: str


class AddonChanged(Payload):
    """An add-on was upgraded or downgraded. Key: service id."""

    TYPE: ClassVar[str] = "provisioning.addon.changed"
    service_id: UUID
    from_code: str
    to_code: str
