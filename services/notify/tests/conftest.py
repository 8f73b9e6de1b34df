from notify_kit import mail_server, notify_app, push_server, send

__all__ = ["mail_server", "notify_app", "push_server", "send"]
