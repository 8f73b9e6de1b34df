"""DNS: zones and records at Cloudflare, and nameserver delegation checks."""
