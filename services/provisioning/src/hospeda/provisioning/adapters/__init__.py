"""Outbound I/O of the provisioning service (WHM / cPanel)."""
