"""Hospeda's local stack: the embedded Kafka-protocol broker and Redis, the
process supervisor behind ``make run``, and the pytest fixtures."""
