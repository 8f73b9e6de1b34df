from rtkit import producer

__all__ = ["producer"]
