"""Security headers on every answer (one ASGI middleware, the outermost but one).

Pages and scripts get a Content-Security-Policy that allows only the app's own files — no
inline script, no outside host; there is no ``form-action`` because a card
payment redirects to the payment provider. Everything else (JSON, problems,
files) gets a CSP that allows nothing. A route that sets its own header keeps it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hospeda.gateway.config import GatewaySettings

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; object-src 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(self), "
    "publickey-credentials-get=(self), publickey-credentials-create=(self)"
)
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(content_type: str, *, secure: bool) -> dict[str, str]:
    """The headers an answer of ``content_type`` gets."""
    # a script may be a worker, which runs under its own answer's CSP (the service
    # worker fetches and caches the pages): scripts get the pages' policy
    page = content_type.startswith(("text/html", "text/javascript", "application/javascript"))
    headers = {
        "Content-Security-Policy": PAGE_CSP if page else API_CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Permissions-Policy": PERMISSIONS_POLICY,
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if secure:  # cookies are Secure: the site is served over HTTPS
        headers["Strict-Transport-Security"] = HSTS
    return headers


class SecurityHeaders:
    def __init__(self, app: ASGIApp, settings: GatewaySettings) -> None:
        self.app = app
        self.secure = settings.cookie_secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                wanted = security_headers(headers.get("content-type", ""), secure=self.secure)
                for name, value in wanted.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
