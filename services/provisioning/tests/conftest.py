from provisioning_kit import bus, whm

__all__ = ["bus", "whm"]
