from notify_kit import mail_server

__all__ = ["mail_server"]
