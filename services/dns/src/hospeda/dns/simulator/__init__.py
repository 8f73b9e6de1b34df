"""Local stand-ins for the outside systems: a Cloudflare API v4 simulator and an authoritative DNS server."""
