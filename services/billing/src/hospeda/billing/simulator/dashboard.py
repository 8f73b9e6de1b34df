"""What happens at Stripe without our API calls: a person refunding from the
dashboard, a customer's bank disputing a charge, a refund that waited for the
customer finishing. Each emits the webhooks Stripe sends for it.

    POST /_sim/charges/{id}/refund     {"amount": 500}        dashboard refund
    POST /_sim/refunds/{id}/complete                          requires_action → succeeded
    POST /_sim/charges/{id}/dispute    {"reason": "fraudulent", "amount": 990}
    POST /_sim/disputes/{id}/close     {"outcome": "won" | "lost"}
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class StripeSimulator(Protocol):
    """What the dashboard needs of ``app.StripeSimulator`` (which composes these routes)."""

    charges: dict[str, dict[str, Any]]
    refunds: dict[str, dict[str, Any]]
    disputes: dict[str, dict[str, Any]]

    def emit(
        self, kind: str, obj: dict[str, Any], *, request: dict[str, Any] | None = None
    ) -> str: ...

    def refund(
        self,
        charge: dict[str, Any],
        amount: int,
        *,
        reason: str | None,
        metadata: dict[str, str],
        request: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...

    def complete_refund(self, refund: dict[str, Any]) -> None: ...

    def unrefunded(self, charge: dict[str, Any]) -> int: ...


DISPUTE_REASONS = {
    "bank_cannot_process",
    "credit_not_processed",
    "duplicate",
    "fraudulent",
    "general",
    "product_not_received",
    "product_unacceptable",
    "subscription_canceled",
    "unrecognized",
}
EVIDENCE_DAYS = 7  # Stripe gives about a week (bank-dependent) to answer


def _missing(kind: str, object_id: str) -> JSONResponse:
    return JSONResponse({"error": f"no such {kind}: {object_id}"}, status_code=404)


def dashboard_routes(sim: StripeSimulator) -> list[Route]:
    async def body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        return dict(await request.json()) if raw else {}

    async def refund_charge(request: Request) -> JSONResponse:
        charge = sim.charges.get(request.path_params["id"])
        if charge is None:
            return _missing("charge", request.path_params["id"])
        wanted = await body(request)
        left = sim.unrefunded(charge)
        amount = int(wanted.get("amount") or left)
        if not 0 < amount <= left:
            return JSONResponse({"error": f"{amount} is more than the {left} left"}, 400)
        refund = sim.refund(charge, amount, reason=wanted.get("reason"), metadata={})
        return JSONResponse(refund)

    async def complete_refund(request: Request) -> JSONResponse:
        refund = sim.refunds.get(request.path_params["id"])
        if refund is None:
            return _missing("refund", request.path_params["id"])
        if refund["status"] != "requires_action":
            return JSONResponse({"error": f"refund is {refund['status']}"}, status_code=409)
        sim.complete_refund(refund)
        return JSONResponse(refund)

    async def dispute_charge(request: Request) -> JSONResponse:
        charge = sim.charges.get(request.path_params["id"])
        if charge is None:
            return _missing("charge", request.path_params["id"])
        wanted = await body(request)
        reason = wanted.get("reason", "fraudulent")
        if reason not in DISPUTE_REASONS:
            return JSONResponse({"error": f"unknown dispute reason {reason}"}, status_code=400)
        now = int(time.time())
        dispute = {
            "id": "dp_" + secrets.token_hex(12),
            "object": "dispute",
            "amount": int(wanted.get("amount") or charge["amount"]),
            "currency": charge["currency"],
            "charge": charge["id"],
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "status": "needs_response",
            "evidence_details": {"due_by": now + EVIDENCE_DAYS * 86_400, "has_evidence": False},
            "is_charge_refundable": False,
            "created": now,
        }
        sim.disputes[dispute["id"]] = dispute
        charge["disputed"] = True
        sim.emit("charge.dispute.created", dispute)
        sim.emit("charge.dispute.funds_withdrawn", dispute)
        return JSONResponse(dispute)

    async def close_dispute(request: Request) -> JSONResponse:
        dispute = sim.disputes.get(request.path_params["id"])
        if dispute is None:
            return _missing("dispute", request.path_params["id"])
        outcome = (await body(request)).get("outcome")
        if outcome not in ("won", "lost"):
            return JSONResponse({"error": "outcome must be won or lost"}, status_code=400)
        if dispute["status"] in ("won", "lost"):
            return JSONResponse({"error": f"dispute already {dispute['status']}"}, 409)
        dispute["status"] = outcome
        sim.emit("charge.dispute.closed", dispute)
        if outcome == "won":
            sim.emit("charge.dispute.funds_reinstated", dispute)
        return JSONResponse(dispute)

    return [
        Route("/_sim/charges/{id}/refund", refund_charge, methods=["POST"]),
        Route("/_sim/refunds/{id}/complete", complete_refund, methods=["POST"]),
        Route("/_sim/charges/{id}/dispute", dispute_charge, methods=["POST"]),
        Route("/_sim/disputes/{id}/close", close_dispute, methods=["POST"]),
    ]
