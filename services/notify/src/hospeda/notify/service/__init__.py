"""Notify's use cases: people and their settings, delivering notifications,
and the failures that must reach a person. The only place that writes the outbox."""
