"""Outbound I/O of the billing service, each behind a Protocol."""
