"""Notify: e-mail, web push and in-app notifications."""
