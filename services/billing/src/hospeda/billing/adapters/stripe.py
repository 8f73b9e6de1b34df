"""Stripe through the official ``stripe`` SDK: customers, PaymentIntents
(card and Pix), refunds, and webhook signature checks.

Every call that creates something carries an idempotency key, so a retried
job never makes a second charge. Failures are sorted once, here:

- ``Declined``: the customer's bank said no (a normal outcome, not retried);
- ``StripeUnavailable``: network, timeout, 5xx, rate limit — retried later;
- ``StripeRejected`` (a ``PermanentError``): Stripe refused the request as
  it is (bad key, bad parameter) — retrying cannot help.

The secret key is read only to build the client; it is never logged.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import stripe

from hospeda.runtime import metrics
from hospeda.runtime.errors import PermanentError


class Declined(Exception):
    """The payment was declined (card declined, authentication required off-session…)."""

    def __init__(
        self, code: str, message: str, *, payment_intent: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.payment_intent = payment_intent or {}


class StripeUnavailable(Exception):
    """Stripe could not be reached or answered with a server error; try again."""


class StripeRejected(PermanentError):
    """Stripe refused the request as it is."""


class InvalidWebhook(ValueError):
    """A webhook whose signature, timestamp or body does not check out."""


class PaymentGateway(Protocol):
    """What billing needs from Stripe."""

    async def ensure_customer(
        self, *, company_id: str, email: str | None, idempotency_key: str
    ) -> str: ...

    async def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        method: str,
        customer: str | None,
        payment_method: str | None,
        off_session: bool,
        save_card: bool,
        description: str,
        metadata: dict[str, str],
        idempotency_key: str,
        pix_expires_after_s: int,
        return_url: str | None,
    ) -> dict[str, Any]: ...

    async def retrieve_payment_intent(self, payment_intent_id: str) -> dict[str, Any]: ...

    async def cancel_payment_intent(
        self, payment_intent_id: str, *, idempotency_key: str
    ) -> dict[str, Any]: ...

    async def create_refund(
        self,
        *,
        payment_intent: str,
        amount: int,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> dict[str, Any]: ...

    def verify_webhook(self, payload: bytes, signature: str | None) -> dict[str, Any]: ...


class StripeGateway:
    """``PaymentGateway`` on the official SDK. ``api_base`` points it at the
    simulator; without it, the real API."""

    def __init__(
        self,
        *,
        secret_key: str,
        webhook_secret: str | None,
        api_base: str | None = None,
        timeout: float = 20.0,
        webhook_tolerance: int = 300,
    ) -> None:
        self._webhook_secret = webhook_secret
        metrics.name_provider("stripe", api_base)
        self._tolerance = webhook_tolerance
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            http_client=stripe.HTTPXClient(timeout=timeout),
            max_network_retries=0,  # our job engine retries, with the same idempotency key
        )

    async def ensure_customer(
        self, *, company_id: str, email: str | None, idempotency_key: str
    ) -> str:
        params: dict[str, Any] = {"metadata": {"company_id": company_id}}
        if email:
            params["email"] = email
        customer = await self._call(
            self.client.v1.customers.create_async,
            params,
            {"idempotency_key": idempotency_key},
        )
        return str(customer["id"])

    async def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        method: str,
        customer: str | None,
        payment_method: str | None,
        off_session: bool,
        save_card: bool,
        description: str,
        metadata: dict[str, str],
        idempotency_key: str,
        pix_expires_after_s: int,
        return_url: str | None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "payment_method_types": [method],
            "confirm": True,
            "description": description[:1000],
            "metadata": metadata,
        }
        if customer:
            params["customer"] = customer
        if method == "card":
            params["payment_method"] = payment_method
            if off_session:
                params["off_session"] = True
            else:
                if save_card and customer:
                    params["setup_future_usage"] = "off_session"
                if return_url:
                    params["return_url"] = return_url
        else:
            params["payment_method_data"] = {"type": "pix"}
            params["payment_method_options"] = {
                "pix": {"expires_after_seconds": pix_expires_after_s}
            }
        return await self._call(
            self.client.v1.payment_intents.create_async,
            params,
            {"idempotency_key": idempotency_key},
        )

    async def retrieve_payment_intent(self, payment_intent_id: str) -> dict[str, Any]:
        return await self._call(
            lambda params, options: self.client.v1.payment_intents.retrieve_async(
                payment_intent_id, params, options
            ),
            {},
            {},
        )

    async def cancel_payment_intent(
        self, payment_intent_id: str, *, idempotency_key: str
    ) -> dict[str, Any]:
        return await self._call(
            lambda params, options: self.client.v1.payment_intents.cancel_async(
                payment_intent_id, params, options
            ),
            {"cancellation_reason": "abandoned"},
            {"idempotency_key": idempotency_key},
        )

    async def create_refund(
        self,
        *,
        payment_intent: str,
        amount: int,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> dict[str, Any]:
        return await self._call(
            self.client.v1.refunds.create_async,
            {
                "payment_intent": payment_intent,
                "amount": amount,
                "reason": "requested_by_customer",
                "metadata": metadata,
            },
            {"idempotency_key": idempotency_key},
        )

    def verify_webhook(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """The event in ``payload`` if ``signature`` (the `Stripe-Signature`
        header: ``t=<unix time>,v1=<HMAC-SHA256 of "t.payload">``) is good."""
        if not self._webhook_secret:
            raise InvalidWebhook("no webhook secret configured")
        if not signature:
            raise InvalidWebhook("missing Stripe-Signature header")
        try:
            text = payload.decode("utf-8")
            stripe.WebhookSignature.verify_header(
                text, signature, self._webhook_secret, self._tolerance
            )
            event = json.loads(text)
        except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
            raise InvalidWebhook(str(exc) or type(exc).__name__) from None
        if not isinstance(event, dict) or event.get("object") != "event" or "id" not in event:
            raise InvalidWebhook("not a Stripe event")
        return event

    async def _call(
        self, method: Any, params: dict[str, Any], options: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            result = await method(params, options)
        except stripe.CardError as exc:
            error = exc.error
            intent = getattr(error, "payment_intent", None) if error is not None else None
            raise Declined(
                str(exc.code or "card_declined"),
                exc.user_message or "Cartão recusado / card declined",
                payment_intent=intent.to_dict() if intent is not None else None,
            ) from None
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise StripeUnavailable(f"{type(exc).__name__}: {exc.user_message or exc}") from None
        except stripe.APIError as exc:
            raise StripeUnavailable(f"Stripe {exc.http_status}: {exc.user_message}") from None
        except stripe.StripeError as exc:
            status = exc.http_status or 0
            if status >= 500 or status in (409, 429):
                raise StripeUnavailable(f"Stripe {status}: {exc.user_message}") from None
            raise StripeRejected(
                f"Stripe recusou a requisição / Stripe refused the request: {exc.user_message}"
            ) from None
        return dict(result.to_dict())
