"""What a route may need, as FastAPI dependencies.

A route names each collaborator it uses in its signature::

    async def invite(body: InvitationIn, ctx: Manage, companies: CompaniesDep) -> ...

The composition root (``app.create_app``) builds the ``Collaborators`` once, at
start-up, and keeps them on the app; the aliases below hand a request the one it
asks for. This module imports no route and not the composition root, so every
route module can import it (and a test can override any of them with
``app.dependency_overrides``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Annotated, Any

import redis.asyncio as redis
from fastapi import Depends, Request

from hospeda.gateway import service
from hospeda.gateway.auth import Authenticator
from hospeda.gateway.config import GatewaySettings
from hospeda.gateway.events import EventHub
from hospeda.gateway.forward import Forwarder
from hospeda.gateway.idempotency import Idempotency
from hospeda.gateway.limits import Limiter
from hospeda.gateway.operations import Operations
from hospeda.runtime.rpc import QueryClient
from hospeda.runtime.service import ServiceRuntime


@dataclass
class Collaborators:
    """Everything a request may need, built once at start-up."""

    settings: GatewaySettings
    runtime: ServiceRuntime
    redis: redis.Redis
    queries: QueryClient
    auth: Authenticator
    idempotency: Idempotency
    events: EventHub
    operations: Operations
    accounts: service.Accounts
    sign_in: service.SignIn
    companies: service.Companies
    tokens: service.Tokens
    passkeys: service.Passkeys
    staff: service.Staff
    forward: Forwarder
    limiter: Limiter
    unaudited: list[str] = field(default_factory=list)  # routes that changed state unaudited


def collaborators(request: Request) -> Collaborators:
    """The app's collaborators (for the route machinery in ``api``; routes use the aliases)."""
    found: Collaborators = request.app.state.collaborators
    return found


_NAMES = {f.name for f in fields(Collaborators)}


def _one(name: str) -> Any:
    """A dependency that hands the route ``Collaborators.<name>``."""
    if name not in _NAMES:
        raise AttributeError(f"Collaborators has no {name!r}")

    async def get(request: Request) -> Any:  # async: FastAPI runs it inline, not in a thread
        return getattr(collaborators(request), name)

    get.__name__ = name
    return Depends(get)


SettingsDep = Annotated[GatewaySettings, _one("settings")]
AuthDep = Annotated[Authenticator, _one("auth")]
IdempotencyDep = Annotated[Idempotency, _one("idempotency")]
EventsDep = Annotated[EventHub, _one("events")]
OperationsDep = Annotated[Operations, _one("operations")]
AccountsDep = Annotated[service.Accounts, _one("accounts")]
SignInDep = Annotated[service.SignIn, _one("sign_in")]
CompaniesDep = Annotated[service.Companies, _one("companies")]
TokensDep = Annotated[service.Tokens, _one("tokens")]
PasskeysDep = Annotated[service.Passkeys, _one("passkeys")]
StaffDep = Annotated[service.Staff, _one("staff")]
ForwardDep = Annotated[Forwarder, _one("forward")]
RedisDep = Annotated[redis.Redis, _one("redis")]
LimiterDep = Annotated[Limiter, _one("limiter")]
