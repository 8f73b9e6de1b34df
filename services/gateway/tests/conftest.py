from gateway_kit import harness, make_harness

__all__ = ["harness", "make_harness"]
