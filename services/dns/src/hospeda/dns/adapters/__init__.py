"""Outbound I/O of the dns service: Cloudflare, the shared rate limiter, DNS over the wire."""
