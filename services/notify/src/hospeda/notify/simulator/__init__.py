"""A local mail server for development and tests: real SMTP in (aiosmtpd),
every message kept in a Maildir, and a small web page to read them."""
