"""The Stripe simulator: state, the API subset, webhooks and the control API."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import io
import json
import logging
import secrets
import string
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import segno
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from hospeda.billing.pix import build_payload
from hospeda.billing.simulator.dashboard import dashboard_routes

log = logging.getLogger("hospeda.billing.simulator")

API_VERSION = "2026-10-28.endive"
MINIMUM = {"brl": 50, "usd": 50, "eur": 50}
"""The smallest charge per currency, in cents (Stripe's documented minimums)."""
SUCCEEDING_CARDS = {"pm_card_visa", "pm_card_mastercard", "pm_card_amex", "pm_card_br"}
DECLINING_CARDS = {
    "pm_card_chargeDeclined": "generic_decline",
    "pm_card_visa_chargeDeclined": "generic_decline",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
    "pm_card_chargeDeclinedExpiredCard": "expired_card",
}
THREE_D_SECURE_CARDS = {"pm_card_authenticationRequired", "pm_card_threeDSecure2Required"}
CANCELABLE = {
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
}


class StripeFailure(Exception):
    """An API error in Stripe's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "type": type}
        if code:
            self.body["code"] = code
        if param:
            self.body["param"] = param
        self.body.update(extra or {})

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.body}, status_code=self.status)


def _id(prefix: str, length: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0]=x``) into nested dicts and lists."""
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        parts = raw_key.replace("]", "").split("[")
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                index = int(part) if part.isdigit() else len(node)
                while len(node) <= index:
                    node.append(None)
                if last:
                    node[index] = value
                else:
                    if node[index] is None:
                        node[index] = [] if parts[i + 1].isdigit() or parts[i + 1] == "" else {}
                    node = node[index]
            else:
                if last:
                    node[part] = value
                else:
                    if part not in node:
                        node[part] = [] if parts[i + 1].isdigit() or parts[i + 1] == "" else {}
                    node = node[part]
    return root


def _int(params: dict[str, Any], name: str, *, required: bool = False) -> int | None:
    value = params.get(name)
    if value is None:
        if required:
            raise StripeFailure(
                400, f"Missing required param: {name}.", code="parameter_missing", param=name
            )
        return None
    if not str(value).isdigit():
        raise StripeFailure(
            400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=name
        )
    return int(value)


def _bool(params: dict[str, Any], name: str) -> bool:
    value = params.get(name)
    if value is None:
        return False
    if value not in ("true", "false"):
        raise StripeFailure(400, f"Invalid boolean: {value}", param=name)
    return value == "true"


def _only(params: dict[str, Any], allowed: set[str]) -> None:
    for name in params:
        if name not in allowed:
            raise StripeFailure(
                400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )


def _metadata(params: dict[str, Any]) -> dict[str, str]:
    metadata = params.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise StripeFailure(400, "Invalid hash", param="metadata")
    if len(metadata) > 50:
        raise StripeFailure(400, "Metadata can have up to 50 keys.", param="metadata")
    for key, value in metadata.items():
        if len(key) > 40 or len(str(value)) > 500:
            raise StripeFailure(
                400, "Metadata keys up to 40 characters, values up to 500.", param="metadata"
            )
    return {k: str(v) for k, v in metadata.items()}


@dataclass
class Fault:
    """A failure to inject on matching requests: ``error`` (answer ``status``
    without doing anything), ``timeout`` (hang, then 504, doing nothing),
    ``lost_response`` (do the work, then hang: the client never hears) or
    ``decline`` (the next card confirmation is declined)."""

    mode: str
    count: int = 1
    path: str = "/v1/"
    method: str = "POST"
    status: int = 500
    seconds: float = 30.0
    decline_code: str = "generic_decline"

    def matches(self, method: str, path: str) -> bool:
        return self.count > 0 and method == self.method and path.startswith(self.path)


@dataclass
class StripeSimulator:
    """Everything the simulator remembers."""

    api_key: str
    webhook_secret: str
    webhook_url: str | None = None
    public_url: str = "http://127.0.0.1:12111"
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds_require_action: bool = False  # new refunds wait for the customer (bank details)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    attached: dict[str, str] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, int, dict[str, Any]] | None] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    paused: bool = False
    held: list[str] = field(default_factory=list)
    _queue: asyncio.Queue[tuple[str, int]] | None = None

    def reset(self) -> None:
        if self._queue is not None:
            while not self._queue.empty():
                self._queue.get_nowait()
        for store in (
            self.customers,
            self.intents,
            self.charges,
            self.refunds,
            self.disputes,
            self.events,
        ):
            store.clear()
        self.refunds_require_action = False
        self.attached.clear()
        self.idempotency.clear()
        self.faults.clear()
        self.deliveries.clear()
        self.held.clear()
        self.paused = False

    # --- events and webhooks -------------------------------------------------------------

    def emit(self, kind: str, obj: dict[str, Any], *, request: dict[str, Any] | None = None) -> str:
        event = {
            "id": _id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "data": {"object": json.loads(json.dumps(_public(obj)))},
            "livemode": False,
            "pending_webhooks": 1 if self.webhook_url else 0,
            "request": request or {"id": None, "idempotency_key": None},
            "type": kind,
        }
        self.events[event["id"]] = event
        if self.paused:
            self.held.append(event["id"])
        elif self._queue is not None:
            self._queue.put_nowait((event["id"], 1))
        return str(event["id"])

    def sign(self, payload: str, timestamp: int | None = None) -> str:
        timestamp = timestamp or int(time.time())
        signature = hmac.new(
            self.webhook_secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
        ).hexdigest()
        return f"t={timestamp},v1={signature}"

    async def deliver(self, client: httpx.AsyncClient, event_id: str) -> int:
        """POST one event to the webhook endpoint, signed; returns the status (0: no answer)."""
        if not self.webhook_url or event_id not in self.events:
            return 0
        payload = json.dumps(self.events[event_id], indent=2)
        status = 0
        try:
            response = await client.post(
                self.webhook_url,
                content=payload.encode(),
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Stripe-Signature": self.sign(payload),
                    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                },
            )
            status = response.status_code
        except httpx.HTTPError as exc:
            log.info("webhook %s not delivered: %s", event_id, exc)
        self.deliveries.append({"event": event_id, "status": status, "at": time.time()})
        return status

    async def deliveries_loop(self) -> None:
        """Deliver events in order; retry failures with backoff (Stripe retries
        for days; here up to 8 times, from half a second)."""
        assert self._queue is not None
        async with httpx.AsyncClient(timeout=10) as client:
            while True:
                event_id, attempt = await self._queue.get()
                if event_id not in self.events:
                    continue  # forgotten by a reset
                try:
                    status = await self.deliver(client, event_id)
                except Exception:
                    log.exception("delivering %s failed", event_id)
                    status = 0
                if not 200 <= status < 300 and attempt < 8:
                    asyncio.get_running_loop().call_later(
                        0.5 * 2 ** (attempt - 1),
                        self._queue.put_nowait,
                        (event_id, attempt + 1),
                    )

    # --- objects ----------------------------------------------------------------------------

    def expire_due(self) -> None:
        now = int(time.time())
        for intent in list(self.intents.values()):
            pix = (intent.get("next_action") or {}).get("pix_display_qr_code")
            if intent["status"] == "requires_action" and pix and pix["expires_at"] <= now:
                self.expire_pix(intent)

    def expire_pix(self, intent: dict[str, Any]) -> None:
        intent["status"] = "requires_payment_method"
        intent["next_action"] = None
        intent["last_payment_error"] = {
            "type": "invalid_request_error",
            "code": "payment_intent_payment_attempt_expired",
            "message": "The payment attempt for this PaymentIntent has expired.",
        }
        self.emit("payment_intent.payment_failed", intent)

    def succeed(self, intent: dict[str, Any], request: dict[str, Any] | None = None) -> None:
        charge = {
            "id": _id("ch_"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_refunded": 0,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "paid": True,
            "status": "succeeded",
            "refunded": False,
            "refunds": {"object": "list", "data": [], "has_more": False},
            "metadata": intent["metadata"],
            "created": int(time.time()),
        }
        self.charges[charge["id"]] = charge
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            latest_charge=charge["id"],
            next_action=None,
            last_payment_error=None,
        )
        if intent.get("setup_future_usage") and intent.get("customer"):
            self.attached[intent["payment_method"]] = intent["customer"]
        self.emit("charge.succeeded", charge, request=request)
        self.emit("payment_intent.succeeded", intent, request=request)

    def refund(
        self,
        charge: dict[str, Any],
        amount: int,
        *,
        reason: str | None,
        metadata: dict[str, str],
        request: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Refund part of a charge — from the API or from the dashboard (no
        metadata). With ``refunds_require_action`` it waits for ``complete_refund``."""
        refund = {
            "id": _id("re_"),
            "object": "refund",
            "amount": amount,
            "currency": charge["currency"],
            "charge": charge["id"],
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "metadata": metadata,
            "status": "requires_action" if self.refunds_require_action else "succeeded",
            "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        charge["refunds"]["data"].insert(0, refund)
        self.emit("refund.created", refund, request=request)
        if refund["status"] == "succeeded":
            self._refunded(charge, refund, request)
        return refund

    def complete_refund(self, refund: dict[str, Any]) -> None:
        refund["status"] = "succeeded"
        self.emit("refund.updated", refund)
        self._refunded(self.charges[refund["charge"]], refund, None)

    def _refunded(
        self, charge: dict[str, Any], refund: dict[str, Any], request: dict[str, Any] | None
    ) -> None:
        charge["amount_refunded"] += refund["amount"]
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self.emit("charge.refunded", charge, request=request)

    def unrefunded(self, charge: dict[str, Any]) -> int:
        """What may still be refunded: refunds waiting for action hold their amount."""
        waiting = sum(
            r["amount"] for r in charge["refunds"]["data"] if r["status"] == "requires_action"
        )
        return int(charge["amount"] - charge["amount_refunded"] - waiting)

    def decline(
        self, intent: dict[str, Any], code: str, decline_code: str, message: str, request: Any
    ) -> StripeFailure:
        error = {
            "type": "card_error",
            "code": code,
            "decline_code": decline_code,
            "message": message,
            "payment_method": {"id": intent["payment_method"], "object": "payment_method"},
        }
        intent.update(status="requires_payment_method", last_payment_error=error)
        self.emit("payment_intent.payment_failed", intent, request=request)
        return StripeFailure(
            402,
            message,
            type="card_error",
            code=code,
            extra={"decline_code": decline_code, "payment_intent": _public(intent)},
        )


# --- the API ------------------------------------------------------------------------------------


Handler = Callable[[StripeSimulator, Request, dict[str, Any], dict[str, Any]], Awaitable[Any]]


def create_app(sim: StripeSimulator) -> Starlette:
    """The simulator's ASGI app."""

    def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            auth = request.headers.get("authorization", "")
            key = ""
            if auth.startswith("Bearer "):
                key = auth[7:]
            elif auth.startswith("Basic "):
                key = base64.b64decode(auth[6:]).decode(errors="replace").split(":", 1)[0]
            if not key:
                return StripeFailure(401, "You did not provide an API key.").response()
            if not hmac.compare_digest(key, sim.api_key):
                return StripeFailure(
                    401, f"Invalid API Key provided: {key[:8]}****{key[-4:]}"
                ).response()
            body = (await request.body()).decode()
            pairs = parse_qsl(body, keep_blank_values=True) if request.method == "POST" else []
            params = parse_form(pairs or list(request.query_params.multi_items()))
            params.pop("expand", None)
            fault = next(
                (f for f in sim.faults if f.matches(request.method, request.url.path)), None
            )
            if fault is not None and fault.mode in ("error", "timeout"):
                fault.count -= 1
                if fault.mode == "timeout":
                    await asyncio.sleep(fault.seconds)
                    return StripeFailure(504, "Timed out", type="api_error").response()
                return StripeFailure(
                    fault.status, "An unknown error occurred (simulated).", type="api_error"
                ).response()
            key_header = request.headers.get("idempotency-key")
            fingerprint = json.dumps([request.method, request.url.path, params], sort_keys=True)
            if request.method == "POST" and key_header:
                if key_header in sim.idempotency:
                    stored = sim.idempotency[key_header]
                    if stored is None:
                        return StripeFailure(
                            409,
                            "There is currently another in-progress request using this "
                            "Idempotent Key (that probably means you submitted twice, and the "
                            "other request is still going through).",
                            type="idempotency_error",
                            code="idempotency_key_in_use",
                        ).response()
                    if stored[0] != fingerprint:
                        return StripeFailure(
                            400,
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other than "
                            f"'{key_header}' if you meant to execute a different request.",
                            type="idempotency_error",
                        ).response()
                    return JSONResponse(
                        stored[2], status_code=stored[1], headers={"Idempotent-Replayed": "true"}
                    )
                sim.idempotency[key_header] = None
            context = {
                "request": {"id": _id("req_", 14), "idempotency_key": key_header},
                "path": dict(request.path_params),
                "fault": fault,
            }
            try:
                result = await handler(sim, request, params, context)
                status, payload = 200, result
            except StripeFailure as failure:
                status, payload = failure.status, {"error": failure.body}
            except Exception:
                if key_header:
                    sim.idempotency.pop(key_header, None)
                raise
            if key_header and request.method == "POST":
                sim.idempotency[key_header] = (fingerprint, status, payload)
            if fault is not None and fault.mode == "lost_response":
                fault.count -= 1
                await asyncio.sleep(fault.seconds)
            return JSONResponse(
                payload, status_code=status, headers={"Request-Id": context["request"]["id"]}
            )

        return endpoint

    routes = [
        Route("/v1/customers", api(create_customer), methods=["POST"]),
        Route("/v1/customers/{id}", api(retrieve_customer), methods=["GET"]),
        Route("/v1/payment_intents", api(create_intent), methods=["POST"]),
        Route("/v1/payment_intents/{id}", api(retrieve_intent), methods=["GET"]),
        Route("/v1/payment_intents/{id}/confirm", api(confirm_intent), methods=["POST"]),
        Route("/v1/payment_intents/{id}/cancel", api(cancel_intent), methods=["POST"]),
        Route("/v1/refunds", api(create_refund), methods=["POST"]),
        Route("/v1/refunds/{id}", api(retrieve_refund), methods=["GET"]),
        Route("/v1/events", api(list_events), methods=["GET"]),
        Route("/v1/events/{id}", api(retrieve_event), methods=["GET"]),
        *control_routes(sim),
        *dashboard_routes(sim),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        sim._queue = asyncio.Queue()
        sender = asyncio.create_task(sim.deliveries_loop())

        async def expiry() -> None:
            while True:
                await asyncio.sleep(1)
                sim.expire_due()

        expirer = asyncio.create_task(expiry())
        try:
            yield
        finally:
            for task in (sender, expirer):
                task.cancel()
            await asyncio.gather(sender, expirer, return_exceptions=True)

    return Starlette(routes=routes, lifespan=lifespan)


async def create_customer(
    sim: StripeSimulator, request: Request, params: dict[str, Any], ctx: dict[str, Any]
) -> dict[str, Any]:
    _only(params, {"email", "name", "description", "metadata", "phone"})
    email = params.get("email")
    if email is not None and "@" not in email:
        raise StripeFailure(
            400, "Invalid email address: " + email, param="email", code="email_invalid"
        )
    customer = {
        "id": _id("cus_", 14),
        "object": "customer",
        "email": email,
        "name": params.get("name"),
        "metadata": _metadata(params),
        "created": int(time.time()),
        "livemode": False,
    }
    sim.customers[customer["id"]] = customer
    sim.emit("customer.created", customer, request=ctx["request"])
    return customer


async def retrieve_customer(
    sim: StripeSimulator, request: Request, params: dict[str, Any], ctx: dict[str, Any]
) -> dict[str, Any]:
    return _find(sim.customers, ctx["path"]["id"], "customer")


def _find(store: dict[str, dict[str, Any]], object_id: str, kind: str) -> dict[str, Any]:
    if object_id not in store:
        raise StripeFailure(
            404, f"No such {kind}: '{object_id}'", code="resource_missing", param="id"
        )
    return store[object_id]


async def create_intent(
    sim: StripeSimulator, request: Request, params: dict[str, Any], ctx: dict[str, Any]
) -> dict[str, Any]:
    _only(
        params,
        {
            "amount",
            "currency",
            "customer",
            "payment_method",
            "payment_method_types",
            "payment_method_data",
            "payment_method_options",
            "confirm",
            "off_session",
            "setup_future_usage",
            "description",
            "metadata",
            "return_url",
            "receipt_email",
            "capture_method",
            "statement_descriptor",
        },
    )
    amount = _int(params, "amount", required=True)
    currency = params.get("currency")
    if not currency:
        raise StripeFailure(
            400, "Missing required param: currency.", code="parameter_missing", param="currency"
        )
    if currency not in MINIMUM:
        raise StripeFailure(400, f"Invalid currency: {currency}.", param="currency")
    assert amount is not None
    if amount < MINIMUM[currency]:
        raise StripeFailure(
            400,
            f"Amount must be at least {MINIMUM[currency]} cents {currency}",
            code="amount_too_small",
            param="amount",
        )
    if amount > 99_999_999:
        raise StripeFailure(
            400, "Amount must be no more than 99999999", code="amount_too_large", param="amount"
        )
    types = params.get("payment_method_types") or ["card"]
    if not isinstance(types, list) or not types or any(t not in ("card", "pix") for t in types):
        raise StripeFailure(
            400,
            f"The payment method type {types!r} is invalid.",
            param="payment_method_types",
        )
    if "pix" in types and currency != "brl":
        raise StripeFailure(
            400,
            f"The currency provided ({currency}) is invalid. Payments with pix support the "
            "following currencies: brl.",
            param="currency",
        )
    customer = params.get("customer")
    if customer and customer not in sim.customers:
        raise StripeFailure(
            400, f"No such customer: '{customer}'", code="resource_missing", param="customer"
        )
    usage = params.get("setup_future_usage")
    if usage is not None and usage not in ("on_session", "off_session"):
        raise StripeFailure(400, f"Invalid setup_future_usage: {usage}", param="setup_future_usage")
    confirm = _bool(params, "confirm")
    off_session = _bool(params, "off_session")
    if off_session and not confirm:
        raise StripeFailure(
            400,
            "You can only pass in `off_session` when `confirm` is true.",
            param="off_session",
        )
    method = params.get("payment_method")
    if method is not None:
        _check_card(sim, method)
    intent = {
        "id": _id("pi_"),
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "currency": currency,
        "customer": customer,
        "description": params.get("description"),
        "metadata": _metadata(params),
        "status": "requires_payment_method" if method is None else "requires_confirmation",
        "payment_method": method,
        "payment_method_types": types,
        "payment_method_options": params.get("payment_method_options") or {},
        "setup_future_usage": usage,
        "next_action": None,
        "last_payment_error": None,
        "latest_charge": None,
        "cancellation_reason": None,
        "canceled_at": None,
        "capture_method": "automatic",
        "confirmation_method": "automatic",
        "created": int(time.time()),
        "livemode": False,
    }
    intent["client_secret"] = f"{intent['id']}_secret_{_id('', 24)}"
    sim.intents[intent["id"]] = intent
    sim.emit("payment_intent.created", intent, request=ctx["request"])
    if confirm:
        await _confirm(sim, intent, params, ctx, off_session=off_session)
    return _public(intent)


def _check_card(sim: StripeSimulator, method: str) -> None:
    known = SUCCEEDING_CARDS | set(DECLINING_CARDS) | THREE_D_SECURE_CARDS
    if method not in known:
        raise StripeFailure(
            400,
            f"No such PaymentMethod: '{method}'",
            code="resource_missing",
            param="payment_method",
        )


async def _confirm(
    sim: StripeSimulator,
    intent: dict[str, Any],
    params: dict[str, Any],
    ctx: dict[str, Any],
    *,
    off_session: bool,
) -> None:
    request = ctx["request"]
    data = params.get("payment_method_data") or {}
    if intent["payment_method"] is None and data.get("type") == "pix":
        if "pix" not in intent["payment_method_types"]:
            raise StripeFailure(
                400, "pix is not in payment_method_types", param="payment_method_data"
            )
        options = (intent["payment_method_options"] or {}).get("pix") or {}
        seconds = int(options.get("expires_after_seconds") or 86_400)
        if not 10 <= seconds <= 1_209_600:
            raise StripeFailure(
                400,
                "expires_after_seconds must be between 10 and 1209600.",
                param="payment_method_options[pix][expires_after_seconds]",
            )
        intent["payment_method"] = _id("pm_")
        code = build_payload(
            key="pix@stripe-simulator.local",
            merchant_name="Stripe Simulator",
            merchant_city="Sao Paulo",
            amount=intent["amount"],
            txid=intent["id"].replace("_", "")[:25],
        )
        base = sim.public_url.rstrip("/")
        intent.update(
            status="requires_action",
            next_action={
                "type": "pix_display_qr_code",
                "pix_display_qr_code": {
                    "data": code,
                    "expires_at": int(time.time()) + seconds,
                    "hosted_instructions_url": f"{base}/_sim/pix/{intent['id']}",
                    "image_url_png": f"{base}/_sim/pix/{intent['id']}.png",
                    "image_url_svg": f"{base}/_sim/pix/{intent['id']}.svg",
                },
            },
        )
        sim.emit("payment_intent.requires_action", intent, request=request)
        return
    method = intent["payment_method"]
    if method is None:
        raise StripeFailure(
            400,
            "You cannot confirm this PaymentIntent because it's missing a payment method. To "
            "confirm the PaymentIntent, provide a payment_method.",
            code="payment_intent_unexpected_state",
        )
    if "card" not in intent["payment_method_types"]:
        raise StripeFailure(400, "card is not in payment_method_types", param="payment_method")
    if off_session and sim.attached.get(method) != intent["customer"]:
        raise StripeFailure(
            400,
            f"The provided PaymentMethod {method} is not attached to customer "
            f"{intent['customer']}; save it during an on-session payment first.",
            param="payment_method",
        )
    fault = ctx.get("fault")
    if fault is not None and fault.mode == "decline":
        fault.count -= 1
        raise sim.decline(
            intent, "card_declined", fault.decline_code, "Your card was declined.", request
        )
    if method in DECLINING_CARDS:
        code = DECLINING_CARDS[method]
        raise sim.decline(
            intent,
            "expired_card" if code == "expired_card" else "card_declined",
            code,
            "Your card was declined."
            if code != "insufficient_funds"
            else "Your card has insufficient funds.",
            request,
        )
    if method in THREE_D_SECURE_CARDS:
        if off_session:
            raise sim.decline(
                intent,
                "authentication_required",
                "authentication_required",
                "Your card was declined. This transaction requires authentication.",
                request,
            )
        return_url = params.get("return_url")
        intent.update(
            status="requires_action",
            next_action={
                "type": "redirect_to_url",
                "redirect_to_url": {
                    "url": f"{sim.public_url.rstrip('/')}/_sim/3ds/{intent['id']}",
                    "return_url": return_url,
                },
            },
        )
        intent["_return_url"] = return_url
        sim.emit("payment_intent.requires_action", intent, request=request)
        return
    sim.succeed(intent, request)


async def retrieve_intent(
    sim: StripeSimulator, request: Request, params: dict[str, Any], ctx: dict[str, Any]
) -> dict[str, Any]:
    sim.expire_due()
    return _public(_find(sim.intents, ctx["path"]["id"], "payment_intent"))


def _public(intent: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in intent.items() if not k.startswith("_")}


async def confirm_intent(
    sim: StripeSimulator, request: Request, params: dict[str, Any], ctx: dict[str, Any]
) -> dict[str, Any]:
    _only(params, {"payment_method", "payment_method_data", "off_session", "return_url"})
    intent = _find(sim.intents, ctx["path"]["id"], "payment_intent")
    if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
        raise StripeFailure(
            400,
            f"This PaymentIntent's status is {intent['status']}; it cannot be confirmed.",
            code="payment_intent_unexpected_state",
        )
    if params.get("payment_method"):
        _check_card(sim, params["payment_method"])
        intent["payment_method"] = params["payment_method"]
    await _confirm(sim, intent, params, ctx, off_session=_bool(params, "off_session"))
    return _public(intent)


async def cancel_intent(
    sim: StripeSimulator, request: Request, params: dict[str, Any], ctx: dict[str, Any]
) -> dict[str, Any]:
    _only(params, {"cancellation_reason"})
    intent = _find(sim.intents, ctx["path"]["id"], "payment_intent")
    if intent["status"] not in CANCELABLE:
        raise StripeFailure(
            400,
            f"You cannot cancel this PaymentIntent because it has a status of "
            f"{intent['status']}. Only a PaymentIntent with one of the following statuses may "
            "be canceled: requires_payment_method, requires_capture, requires_confirmation, "
            "requires_action, processing.",
            code="payment_intent_unexpected_state",
        )
    reason = params.get("cancellation_reason")
    if reason not in (None, "duplicate", "fraudulent", "requested_by_customer", "abandoned"):
        raise StripeFailure(
            400, f"Invalid cancellation_reason: {reason}", param="cancellation_reason"
        )
    intent.update(
        status="canceled",
        cancellation_reason=reason,
        canceled_at=int(time.time()),
        next_action=None,
    )
    sim.emit("payment_intent.canceled", intent, request=ctx["request"])
    return _public(intent)


async def create_refund(
    sim: StripeSimulator, request: Request, params: dict[str, Any], ctx: dict[str, Any]
) -> dict[str, Any]:
    _only(params, {"payment_intent", "charge", "amount", "reason", "metadata"})
    intent_id = params.get("payment_intent")
    if not intent_id and not params.get("charge"):
        raise StripeFailure(
            400,
            "One of the following params should be provided for this request: payment_intent or charge.",
        )
    intent = _find(sim.intents, intent_id, "payment_intent") if intent_id else None
    charge_id = intent["latest_charge"] if intent else params["charge"]
    if not charge_id or charge_id not in sim.charges:
        raise StripeFailure(
            400,
            f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
            code="charge_not_refundable",
        )
    charge = sim.charges[charge_id]
    left = sim.unrefunded(charge)
    amount = _int(params, "amount") or left
    if amount <= 0 or amount > left:
        raise StripeFailure(
            400,
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
            code="amount_too_large",
            param="amount",
        )
    reason = params.get("reason")
    if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
        raise StripeFailure(400, f"Invalid reason: {reason}", param="reason")
    return sim.refund(
        charge, amount, reason=reason, metadata=_metadata(params), request=ctx["request"]
    )


async def retrieve_refund(
    sim: StripeSimulator, request: Request, params: dict[str, Any], ctx: dict[str, Any]
) -> dict[str, Any]:
    return _find(sim.refunds, ctx["path"]["id"], "refund")


async def list_events(
    sim: StripeSimulator, request: Request, params: dict[str, Any], ctx: dict[str, Any]
) -> dict[str, Any]:
    limit = min(_int(params, "limit") or 10, 100)
    kind = params.get("type")
    events = [e for e in reversed(sim.events.values()) if not kind or e["type"] == kind]
    return {
        "object": "list",
        "url": "/v1/events",
        "has_more": len(events) > limit,
        "data": events[:limit],
    }


async def retrieve_event(
    sim: StripeSimulator, request: Request, params: dict[str, Any], ctx: dict[str, Any]
) -> dict[str, Any]:
    return _find(sim.events, ctx["path"]["id"], "event")


# --- control API (not Stripe's: how tests and people steer the simulator) -------------------------


def control_routes(sim: StripeSimulator) -> list[Route]:
    async def reset(request: Request) -> JSONResponse:
        sim.reset()
        return JSONResponse({"ok": True})

    async def config(request: Request) -> JSONResponse:
        body = await request.json()
        if "webhook_url" in body:
            sim.webhook_url = body["webhook_url"]
        if "webhook_secret" in body:
            sim.webhook_secret = body["webhook_secret"]
        if "refunds_require_action" in body:
            sim.refunds_require_action = bool(body["refunds_require_action"])
        return JSONResponse({"webhook_url": sim.webhook_url})

    async def add_fault(request: Request) -> JSONResponse:
        body = await request.json()
        fault = Fault(**body)
        if fault.mode not in ("error", "timeout", "lost_response", "decline"):
            return JSONResponse({"error": f"unknown mode {fault.mode}"}, status_code=400)
        sim.faults.append(fault)
        return JSONResponse({"faults": len(sim.faults)})

    async def clear_faults(request: Request) -> JSONResponse:
        sim.faults.clear()
        return JSONResponse({"faults": 0})

    def intent_of(request: Request) -> dict[str, Any]:
        return _find(sim.intents, request.path_params["id"], "payment_intent")

    async def pay_pix(request: Request) -> Response:
        try:
            intent = intent_of(request)
        except StripeFailure as failure:
            return failure.response()
        if intent["status"] != "requires_action" or "pix" not in intent["payment_method_types"]:
            return JSONResponse(
                {"error": f"not a Pix waiting for payment ({intent['status']})"}, status_code=409
            )
        sim.succeed(intent)
        return JSONResponse(_public(intent))

    async def expire_pix(request: Request) -> Response:
        try:
            intent = intent_of(request)
        except StripeFailure as failure:
            return failure.response()
        if intent["status"] != "requires_action":
            return JSONResponse(
                {"error": f"nothing to expire ({intent['status']})"}, status_code=409
            )
        sim.expire_pix(intent)
        return JSONResponse(_public(intent))

    async def three_d_secure(request: Request) -> Response:
        """The customer's bank page: ``?outcome=fail`` fails authentication;
        then the customer is sent back to ``return_url``."""
        try:
            intent = intent_of(request)
        except StripeFailure as failure:
            return failure.response()
        if intent["status"] == "requires_action":
            if request.query_params.get("outcome") == "fail":
                intent.update(
                    status="requires_payment_method",
                    next_action=None,
                    last_payment_error={
                        "type": "card_error",
                        "code": "payment_intent_authentication_failure",
                        "message": "The provided PaymentMethod has failed authentication.",
                    },
                )
                sim.emit("payment_intent.payment_failed", intent)
            else:
                sim.succeed(intent)
        target = intent.get("_return_url")
        if not target:
            return JSONResponse(_public(intent))
        glue = "&" if "?" in target else "?"
        status = "succeeded" if intent["status"] == "succeeded" else "failed"
        return RedirectResponse(
            f"{target}{glue}payment_intent={intent['id']}&redirect_status={status}", status_code=303
        )

    async def pix_image(request: Request) -> Response:
        try:
            intent = intent_of(request)
        except StripeFailure as failure:
            return failure.response()
        pix = (intent.get("next_action") or {}).get("pix_display_qr_code")
        if not pix:
            return JSONResponse({"error": "no Pix code"}, status_code=404)
        kind = request.path_params.get("kind", "png")
        buffer = io.BytesIO()
        segno.make(pix["data"], error="m").save(buffer, kind=kind, scale=5, border=2)
        return Response(
            buffer.getvalue(), media_type="image/png" if kind == "png" else "image/svg+xml"
        )

    async def pause(request: Request) -> JSONResponse:
        sim.paused = True
        return JSONResponse({"paused": True})

    async def resume(request: Request) -> JSONResponse:
        sim.paused = False
        held, sim.held = sim.held, []
        for event_id in held:
            assert sim._queue is not None
            sim._queue.put_nowait((event_id, 1))
        return JSONResponse({"released": len(held)})

    async def redeliver(request: Request) -> Response:
        """Deliver an event again, ``copies`` times at once (duplicates, races)."""
        event_id = request.path_params["id"]
        if event_id not in sim.events:
            return JSONResponse({"error": "no such event"}, status_code=404)
        copies = int(request.query_params.get("copies", "1"))
        async with httpx.AsyncClient(timeout=15) as client:
            statuses = await asyncio.gather(*(sim.deliver(client, event_id) for _ in range(copies)))
        return JSONResponse({"statuses": list(statuses)})

    async def state(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "customers": list(sim.customers.values()),
                "payment_intents": [_public(i) for i in sim.intents.values()],
                "charges": list(sim.charges.values()),
                "refunds": list(sim.refunds.values()),
                "disputes": list(sim.disputes.values()),
                "events": [
                    {"id": e["id"], "type": e["type"], "object": e["data"]["object"].get("id")}
                    for e in sim.events.values()
                ],
                "deliveries": sim.deliveries,
                "held": sim.held,
            }
        )

    return [
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/config", config, methods=["POST"]),
        Route("/_sim/faults", add_fault, methods=["POST"]),
        Route("/_sim/faults", clear_faults, methods=["DELETE"]),
        Route("/_sim/payment_intents/{id}/pix/pay", pay_pix, methods=["POST"]),
        Route("/_sim/payment_intents/{id}/pix/expire", expire_pix, methods=["POST"]),
        Route("/_sim/3ds/{id}", three_d_secure, methods=["GET"]),
        Route("/_sim/pix/{id}.{kind}", pix_image, methods=["GET"]),
        Route("/_sim/webhooks/pause", pause, methods=["POST"]),
        Route("/_sim/webhooks/resume", resume, methods=["POST"]),
        Route("/_sim/events/{id}/deliver", redeliver, methods=["POST"]),
        Route("/_sim/state", state, methods=["GET"]),
    ]
