"""Identity rules, without I/O. A broken rule raises ``Refused`` with a code the
HTTP edge turns into a problem (see ``problems.REFUSAL_STATUS``)."""

from __future__ import annotations

from typing import Any

from hospeda.contracts.identity import CompanyRole
from hospeda.gateway.permissions import TOKEN_GRANTABLE, Permission


class Refused(Exception):
    """A request that breaks an identity rule."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_role_change(
    *,
    manages_owners: bool,
    current: CompanyRole | None,
    new: CompanyRole | None,
    owners: int,
) -> None:
    """May someone change a member's role from ``current`` to ``new``
    (``None``: not a member / removed)? Only owners touch the owner role, and a
    company never loses its last owner."""
    touches_owner = CompanyRole.OWNER in (current, new) and current != new
    if touches_owner and not manages_owners:
        raise Refused("owner_only")
    if current is CompanyRole.OWNER and new is not CompanyRole.OWNER and owners <= 1:
        raise Refused("last_owner")


def check_invitation_role(*, manages_owners: bool, role: CompanyRole) -> None:
    if role is CompanyRole.OWNER and not manages_owners:
        raise Refused("owner_only")


def token_permissions(
    requested: list[Permission], granted: frozenset[Permission]
) -> list[Permission]:
    """What a new API token may carry: a subset of its creator's permissions,
    minus the powers tokens never get."""
    for permission in requested:
        if permission not in TOKEN_GRANTABLE or permission not in granted:
            raise Refused("permission_not_grantable", permission=permission.value)
    return sorted(set(requested))
