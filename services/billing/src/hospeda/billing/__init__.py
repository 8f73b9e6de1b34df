"""Billing: catalog, orders, invoices, payments (Stripe, Pix) and subscriptions."""
