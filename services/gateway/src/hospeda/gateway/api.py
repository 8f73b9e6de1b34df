"""The HTTP edge every API route goes through.

- ``allow(permission)``: the dependency every route declares. It
  authenticates (session cookie or API token), checks CSRF on
  cookie-authenticated state changes, checks the permission against the
  matrix, claims the ``Idempotency-Key`` and hands the route a
  ``RequestContext``.
- ``ApiRoute``: the route class of every router. A route without ``allow``
  raises at definition, so the app does not start; it also stores idempotent
  answers, and flags any successful state change that recorded no audit entry.
  ``refuse_undeclared_routes`` stops an app with a route that bypasses it.
- ``SessionCookies``: sends new or cleared session cookies with any answer.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar
from uuid import UUID

from fastapi import Depends, FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as AsgiScope

from hospeda.contracts import Actor, ActorKind, new_id
from hospeda.gateway.auth import Principal, csrf_cookie_name, session_cookie_name
from hospeda.gateway.config import GatewaySettings
from hospeda.gateway.context import RequestContext
from hospeda.gateway.deps import collaborators
from hospeda.gateway.idempotency import Claim, Idempotency, Replay
from hospeda.gateway.outgoing import Origin
from hospeda.gateway.permissions import Permission, Scope, scope_of
from hospeda.gateway.problems import ApiError, documented
from hospeda.gateway.security import same
from hospeda.gateway.sessions import Session
from hospeda.runtime.telemetry import correlated

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
ANONYMOUS = Actor(kind=ActorKind.USER, id=None)


def client_ip(request: Request) -> str | None:
    # X-Forwarded-For counts only from GATEWAY_TRUSTED_PROXIES (app.create_app)
    return request.client.host if request.client else None


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def form_csrf(request: Request) -> str:
    """The ``csrf_token`` field of a web app form (pages post forms, not fetches);
    the form is parsed once and kept on the request for the page that reads it."""
    if not request.headers.get("content-type", "").startswith(FORM_TYPES):
        return ""
    value = (await request.form()).get("csrf_token")
    return value if isinstance(value, str) else ""


class Guard:
    """The dependency behind ``allow``: authentication, CSRF, permission."""

    def __init__(self, permission: Permission, *, recent: bool = False) -> None:
        self.permission = permission
        self.scope = scope_of(permission)
        self.recent = recent  # a sensitive change: the person proved it in the last minutes

    async def __call__(self, request: Request) -> RequestContext:
        # the collaborators are read here, not declared as sub-dependencies: FastAPI
        # solving two more dependencies on every request cost more than this lookup
        gateway = collaborators(request)
        auth, idempotency = gateway.auth, gateway.idempotency
        unsafe = request.method not in SAFE_METHODS
        origin = Origin(
            actor=ANONYMOUS,
            company_id=None,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
            correlation_id=request.state.correlation_id,
        )
        request.state.origin = origin
        if self.scope is Scope.PUBLIC:
            # Browsers say where a request comes from; refuse other sites' forms (login CSRF).
            if unsafe and request.headers.get("sec-fetch-site") == "cross-site":
                raise ApiError("cross_site", 403)
            await self._claim(request, idempotency, f"ip:{origin.ip}")
            return RequestContext(request, origin, None)

        resolution = await auth.resolve(request, pending=self.scope is Scope.MFA)
        principal = resolution.principal
        if principal is None:
            raise ApiError("not_authenticated", 401)
        if resolution.new_session is not None:
            request.state.session_change = resolution.new_session
        if resolution.presented is not None and unsafe:
            # checked against the session the browser knows (it may just have been rotated)
            sent = request.headers.get(CSRF_HEADER) or await form_csrf(request)
            if not sent or not same(sent, resolution.presented.csrf):
                raise ApiError("csrf_failed", 403)
        self._authorise(principal)
        # staff actions and sensitive changes need a recent sign-in or re-authentication
        # (API tokens are their own proof: they never hold a session's rights)
        sensitive = self.recent or (self.scope is Scope.PLATFORM and unsafe)
        session = principal.session
        if sensitive and session is not None and not auth.sessions.recently_authenticated(session):
            raise ApiError("reauthentication_required", 403)
        origin.actor = principal.actor(as_staff=self.scope is Scope.PLATFORM)
        origin.company_id = principal.company_id if self.scope is Scope.COMPANY else None
        # keyed by caller and company: a key reused after switching company is a new request
        caller = (
            f"token:{principal.token_id}" if principal.token_id else f"user:{principal.user_id}"
        ) + f":company:{principal.company_id}"
        await self._claim(request, idempotency, caller)
        return RequestContext(request, origin, principal, resolution.presented)

    def _authorise(self, principal: Principal) -> None:
        if self.scope in (Scope.SELF, Scope.MFA):
            if principal.session is None:
                raise ApiError("token_not_allowed", 403)
            return
        if self.scope is Scope.PLATFORM:
            if principal.session is None:
                raise ApiError("token_not_allowed", 403)
            if self.permission not in principal.permissions:
                raise ApiError(
                    "staff_2fa_required" if principal.staff_needs_2fa else "forbidden", 403
                )
            return
        if principal.company_id is None:
            raise ApiError("no_active_company", 403)
        if self.permission not in principal.permissions:
            raise ApiError("forbidden", 403)

    @staticmethod
    async def _claim(request: Request, idempotency: Idempotency, caller: str) -> None:
        claim = await idempotency.begin(request, caller)
        request.state.idempotency = claim


def allow(permission: Permission, *, recent: bool = False) -> Any:
    """Declare what a route needs; the route gets a ``RequestContext``. ``recent``:
    the session must have signed in or re-authenticated in the last
    ``GATEWAY_REAUTH_WINDOW_S`` (``POST /auth/reauthenticate``)."""
    return Depends(Guard(permission, recent=recent))


def _guards(dependant: Dependant) -> list[Guard]:
    found = [dependant.call] if isinstance(dependant.call, Guard) else []
    for sub in dependant.dependencies:
        found.extend(_guards(sub))
    return found


class ApiRoute(APIRoute):
    """The route class of every gateway router (see the module docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if "POST" in (kwargs.get("methods") or ()):
            # every POST honours Idempotency-Key (Guard): a bad key (400), a key reused
            # for another request or still running (409), and invalid input (422)
            kwargs["responses"] = {**documented(400, 409, 422), **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)
        guards = {guard.permission for guard in _guards(self.dependant)}
        if len(guards) != 1:
            raise RuntimeError(
                f"route {sorted(self.methods or ())} {path} must declare exactly one permission "
                f"with allow(...); it declares {sorted(guards) or 'none'}"
            )
        self.permission: Permission = guards.pop()
        extra = dict(self.openapi_extra or {})
        extra["x-permission"] = self.permission.value
        if any(g.recent for g in _guards(self.dependant)) or (
            scope_of(self.permission) is Scope.PLATFORM and set(self.methods or ()) - SAFE_METHODS
        ):
            extra["x-reauthentication"] = True
        if "POST" in (self.methods or ()) and scope_of(self.permission) is not Scope.MFA:
            extra.setdefault("parameters", []).append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "Repeat a POST safely: the same key returns the first answer.",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                }
            )
        self.openapi_extra = extra
        note = f"\n\nPermissão / Permission: `{self.permission.value}`"
        self.description = (self.description or "") + note

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                response = await handler(request)
            except Replay as replay:
                return replay.response
            except BaseException:
                claim: Claim | None = getattr(request.state, "idempotency", None)
                if claim is not None:
                    await collaborators(request).idempotency.abort(claim)
                raise
            gateway = collaborators(request)
            change = getattr(request.state, "session_change", None)
            claim = getattr(request.state, "idempotency", None)
            if claim is not None:
                if change is None:
                    await gateway.idempotency.finish(claim, response)
                else:  # an answer that signs someone in is never replayed
                    await gateway.idempotency.abort(claim)
            self._check_audited(request, response)
            return response

        return run

    def _check_audited(self, request: Request, response: Response) -> None:
        if request.method in SAFE_METHODS or not (200 <= response.status_code < 300):
            return
        origin: Origin | None = getattr(request.state, "origin", None)
        if origin is None or not origin.audited:
            route = f"{request.method} {request.url.path}"
            log.error("state change without an audit record: %s", route)
            collaborators(request).unaudited.append(route)


def refuse_undeclared_routes(app: FastAPI) -> None:
    """Every API route goes through ``ApiRoute`` (which refuses a route without
    a permission), or the app does not start."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and not isinstance(route, ApiRoute):
            raise RuntimeError(
                f"route {sorted(route.methods or ())} {context.path} bypasses ApiRoute: "
                "declare it on a router with route_class=ApiRoute and allow(...)"
            )


def session_cookie_headers(settings: GatewaySettings, change: Session | bool) -> list[str]:
    """``Set-Cookie`` values for a new session (or, for ``False``, clearing it)."""
    response = Response()
    common: dict[str, Any] = {"path": "/", "secure": settings.cookie_secure, "samesite": "lax"}
    session_cookie, csrf_cookie = session_cookie_name(settings), csrf_cookie_name(settings)
    if isinstance(change, Session):
        max_age = settings.mfa_pending_s if change.mfa_pending else settings.session_max_s
        response.set_cookie(session_cookie, change.id, max_age=max_age, httponly=True, **common)
        # readable by the web app, which echoes it in X-CSRF-Token
        response.set_cookie(csrf_cookie, change.csrf, max_age=max_age, httponly=False, **common)
    else:
        response.delete_cookie(session_cookie, httponly=True, **common)
        response.delete_cookie(csrf_cookie, httponly=False, **common)
    return response.headers.getlist("set-cookie")


class SessionCookies:
    """ASGI middleware: sends the session cookies a request changed with its
    answer, whatever the answer (a rotated session must reach the browser even
    when the request itself is refused)."""

    def __init__(self, app: ASGIApp, settings: GatewaySettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                change = scope.get("state", {}).get("session_change")
                if change is not None:
                    headers = MutableHeaders(scope=message)
                    for value in session_cookie_headers(self.settings, change):
                        headers.append("set-cookie", value)
            await send(message)

        await self.app(scope, receive, send_with_cookies)


class RequestIds:
    """ASGI middleware: one correlation id per HTTP request, carried by every
    message the request sends and by every log line it writes (the access line
    included), and answered as ``X-Request-Id`` so support can find it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_id()
        scope.setdefault("state", {})["correlation_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["x-request-id"] = str(request_id)
            await send(message)

        with correlated(request_id):
            await self.app(scope, receive, send_with_id)


# --- pagination (answers are ``schemas.common.Page``) -----------------------------------

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
T = TypeVar("T")


def encode_cursor(last_id: UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> UUID | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return UUID(bytes=raw)
    except (ValueError, binascii.Error):
        raise ApiError("invalid_cursor", 422) from None


def page_of(items: list[T], limit: int, key: Callable[[T], UUID]) -> tuple[list[T], str | None]:
    """Split a ``limit + 1`` fetch into the page and the next cursor."""
    if len(items) > limit:
        items = items[:limit]
        return items, encode_cursor(key(items[-1]))
    return items, None
