"""API tokens: a company's credentials for partners' systems, each with chosen
permissions (never more than its creator's)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from hospeda.contracts import new_id
from hospeda.gateway import repository
from hospeda.gateway.auth import TOKEN_PREFIX, Principal
from hospeda.gateway.domain import Refused, token_permissions
from hospeda.gateway.models import ApiToken
from hospeda.gateway.outgoing import Origin, audit
from hospeda.gateway.permissions import Permission
from hospeda.gateway.security import digest, new_secret
from hospeda.gateway.service.core import IdentityCore


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


class Tokens(IdentityCore):
    """A company's API tokens."""

    async def tokens(
        self, company_id: UUID, *, after: UUID | None, limit: int
    ) -> Sequence[ApiToken]:
        async with self.db.reading() as db:
            return await repository.tokens(db, company_id, after=after, limit=limit)

    async def create_token(
        self,
        origin: Origin,
        principal: Principal,
        *,
        name: str,
        permissions: list[Permission],
        expires_in_days: int | None,
    ) -> NewToken:
        company_id = principal.company_id
        assert company_id is not None
        if principal.acting:  # a token acts with its creator's membership; staff have none here
            raise Refused("permission_not_grantable", permission=Permission.TOKENS_MANAGE.value)
        granted = token_permissions(permissions, principal.permissions)
        now = self.clock.now()
        secret = new_secret(TOKEN_PREFIX)
        token = ApiToken(
            id=new_id(),
            company_id=company_id,
            name=name,
            token_hash=digest(secret),
            prefix=secret[:12],
            permissions=[p.value for p in granted],
            created_by=principal.user_id,
            created_at=now,
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        async with self.db.transaction() as db:
            db.add(token)
            audit(
                db,
                origin,
                "api_token.created",
                "api_token",
                token.id,
                after={"name": name, "permissions": token.permissions, "prefix": token.prefix},
            )
        return NewToken(token, secret)

    async def revoke_token(self, origin: Origin, company_id: UUID, token_id: UUID) -> None:
        async with self.db.transaction() as db:
            token = await repository.get_token(db, token_id, company_id)
            if token is None:
                raise Refused("not_found")
            token.revoked_at = token.revoked_at or self.clock.now()
            audit(
                db, origin, "api_token.revoked", "api_token", token.id, after={"name": token.name}
            )
