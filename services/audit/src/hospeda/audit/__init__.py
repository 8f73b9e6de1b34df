"""Audit: the append-only, verifiable trail of every action."""
