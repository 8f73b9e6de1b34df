"""Billing's use cases: the catalog, orders, invoices, payments, refunds,
subscriptions, renewals and dunning.

This package is the only place that writes the outbox. Every use case runs
inside one transaction (a ``Unit``): whatever it changes and every message it
sends commit together or not at all. Each is idempotent on its own terms
(check-then-act on rows locked ``FOR UPDATE``), so a redelivered command, a
second webhook, a customer's redirect and a retried job can race without
applying a payment twice or provisioning what was not paid.

- ``core``: the unit of work and the invoice lifecycle (issue, void, paid);
- ``catalog``, ``orders``, ``payments``, ``disputes``, ``subscriptions``, ``renewals``: the use
  cases of each area; ``pix_settlement``: Pix settled through a PSP (on top of
  ``payments``); ``fulfilment``: what provisioning reports back (a paid
  service it could not deliver). ``Billing`` is all of them together.
"""

import logging

from hospeda.billing.service.catalog import CatalogUseCases
from hospeda.billing.service.core import InvoiceFacts, LineSpec, Unit, is_staff
from hospeda.billing.service.disputes import DisputeUseCases
from hospeda.billing.service.fulfilment import FulfilmentUseCases
from hospeda.billing.service.orders import OrderUseCases
from hospeda.billing.service.pix_settlement import PixUseCases
from hospeda.billing.service.renewals import RenewalUseCases
from hospeda.billing.service.subscriptions import SubscriptionUseCases

log = logging.getLogger(__name__)


class Billing(
    CatalogUseCases,
    OrderUseCases,
    PixUseCases,
    DisputeUseCases,
    FulfilmentUseCases,
    SubscriptionUseCases,
    RenewalUseCases,
):
    """Every billing use case, with its dependencies in sight (see ``BillingCore``)."""

    async def tick(self) -> dict[str, int]:
        """One pass of the clock-driven work. Safe to run in several billing
        processes at once: each piece claims its rows and each step once."""
        now = self.clock.now()
        figures: dict[str, int] = {}
        for name, work in (
            ("ended", self.end_cancelled),
            ("renewed", self.renew_due),
            ("dunning_steps", self.run_dunning),
            ("pix_expired", self.expire_pix),
            ("pix_reconciles", self.schedule_pix_reconcile),
        ):
            try:
                figures[name] = await work(now)
            except Exception:
                log.exception("billing clock work %s failed; will try again", name)
        return figures


__all__ = ["Billing", "InvoiceFacts", "LineSpec", "Unit", "is_staff"]
