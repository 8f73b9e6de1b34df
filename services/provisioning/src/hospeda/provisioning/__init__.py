"""Provisioning: cPanel/WHM accounts, databases, mailboxes, SSL and add-ons, as durable jobs."""
