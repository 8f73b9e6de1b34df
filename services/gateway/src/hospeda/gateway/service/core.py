"""What the identity use cases share: the person a use case acts on, and the
links e-mails carry. Nothing here opens a transaction; the use cases do."""

from __future__ import annotations

from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from hospeda.gateway import repository
from hospeda.gateway.config import GatewaySettings
from hospeda.gateway.domain import Refused
from hospeda.gateway.models import User


async def locked_user(db: AsyncSession, user_id: UUID) -> User:
    """The person, locked for the rest of the transaction; ``not_found`` if gone."""
    user = await repository.get_user(db, user_id, lock=True)
    if user is None:
        raise Refused("not_found")
    return user


def public_link(settings: GatewaySettings, path: str, token: str | None = None) -> str:
    """An address of the web app, with a single-use ``token`` when one is given."""
    page = f"{settings.public_url.rstrip('/')}{path}"
    return page if token is None else f"{page}?token={token}"
