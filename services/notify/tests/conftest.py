from notify_kit import ask, mail_server, notify_app, push_server, send, watch

__all__ = ["ask", "mail_server", "notify_app", "push_server", "send", "watch"]
