"""A local Stripe for development and tests: a real HTTP server speaking the
part of the Stripe API billing uses, with Stripe's parameter checks, error
shapes, idempotency keys and signed webhooks — and a control API
(``/_sim/…``) to make it decline, fail, time out, expire a Pix or resend an
event on demand.

    python -m hospeda.billing.simulator --port 12111 \\
        --api-key sk_test_… --webhook-url http://127.0.0.1:8010/webhooks/stripe \\
        --webhook-secret whsec_…

Test cards (``payment_method``): ``pm_card_visa``, ``pm_card_mastercard``
succeed; ``pm_card_chargeDeclined``, ``pm_card_visa_chargeDeclined`` and
``pm_card_chargeDeclinedInsufficientFunds`` are declined;
``pm_card_authenticationRequired`` asks for 3-D Secure (on session) or is
declined with ``authentication_required`` (off session).
"""

from hospeda.billing.simulator.app import StripeSimulator, create_app

__all__ = ["StripeSimulator", "create_app"]
