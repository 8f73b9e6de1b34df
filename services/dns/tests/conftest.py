from dns_kit import _cloudflare_process, _world_process, cloudflare, start_dns, world

__all__ = ["_cloudflare_process", "_world_process", "cloudflare", "start_dns", "world"]
