from audit_kit import start_audit

__all__ = ["start_audit"]
