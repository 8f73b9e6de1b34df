"""``make bench``: throughput and latency figures (never asserted by tests)."""
