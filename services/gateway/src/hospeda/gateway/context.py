"""What a route gets from ``allow(...)``: who is calling, for which company, from where."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from fastapi import Request

from hospeda.gateway.auth import Principal
from hospeda.gateway.outgoing import Origin
from hospeda.gateway.problems import ApiError
from hospeda.gateway.sessions import Session


@dataclass
class RequestContext:
    """Who is calling, for which company, from where."""

    request: Request
    origin: Origin
    principal: Principal | None
    presented: Session | None = None  # the session the cookie named (before any rotation)

    @property
    def me(self) -> Principal:
        if self.principal is None:
            raise ApiError("not_authenticated", 401)
        return self.principal

    @property
    def company_id(self) -> UUID:
        company = self.me.company_id
        if company is None:
            raise ApiError("no_active_company", 403)
        return company

    @property
    def session(self) -> Session:
        if self.me.session is None:
            raise ApiError("token_not_allowed", 403)
        return self.me.session

    def start_session(self, session: Session) -> None:
        """Send this (new) session's cookies with the answer."""
        self.request.state.session_change = session

    def end_session(self) -> None:
        """Clear the session cookies with the answer."""
        self.request.state.session_change = False
