"""What makes the web app installable: the manifest, the service worker (served
from the root, so its scope is the whole app) and the page it shows offline.

The service worker's cache names carry a version: a digest of the static files,
so changing any of them makes browsers fetch a new worker, which waits and
offers an update (``pwa.js`` shows the banner) instead of reloading silently.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from hospeda.gateway.api import ApiRoute, allow
from hospeda.gateway.permissions import Permission as P

STATIC = Path(__file__).parent / "static"
THEME = "#0b5cad"
BACKGROUND = "#ffffff"

router = APIRouter(include_in_schema=False, route_class=ApiRoute, dependencies=[allow(P.PUBLIC)])

MANIFEST: dict[str, Any] = {
    "id": "/app",
    "name": "Hospeda — sua hospedagem",
    "short_name": "Hospeda",
    "description": "Serviços, faturas, DNS e notificações da sua hospedagem.",
    "lang": "pt-BR",
    "dir": "ltr",
    "start_url": "/app",
    "scope": "/",
    "display": "standalone",
    "orientation": "any",
    "theme_color": THEME,
    "background_color": BACKGROUND,
    "categories": ["business", "productivity"],
    "icons": [
        {"src": "/static/img/icon-192.png", "sizes": "192x192", "type": "image/png"},
        {"src": "/static/img/icon-512.png", "sizes": "512x512", "type": "image/png"},
        {
            "src": "/static/img/icon-maskable-512.png",
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        },
    ],
    "shortcuts": [
        {
            "name": "Faturas",
            "short_name": "Faturas",
            "description": "Suas faturas e pagamentos",
            "url": "/app/faturas",
            "icons": [{"src": "/static/img/icon-192.png", "sizes": "192x192"}],
        },
        {
            "name": "Serviços",
            "short_name": "Serviços",
            "description": "Suas hospedagens e o andamento de cada uma",
            "url": "/app/servicos",
            "icons": [{"src": "/static/img/icon-192.png", "sizes": "192x192"}],
        },
    ],
    "screenshots": [
        {
            "src": "/static/img/screenshot-narrow.png",
            "sizes": "390x844",
            "type": "image/png",
            "form_factor": "narrow",
            "label": "Hospeda no celular",
        },
        {
            "src": "/static/img/screenshot-wide.png",
            "sizes": "1280x800",
            "type": "image/png",
            "form_factor": "wide",
            "label": "Hospeda no computador",
        },
    ],
}


@functools.cache
def static_version() -> str:
    """A digest of every static file: the service worker's cache version."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@router.get("/manifest.webmanifest")
async def manifest() -> Response:
    return Response(
        json.dumps(MANIFEST, ensure_ascii=False),
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/sw.js")
async def service_worker() -> Response:
    source = (STATIC / "js" / "sw.js").read_text(encoding="utf-8")
    return Response(
        source.replace("__VERSION__", static_version()),
        media_type="text/javascript",
        # always asked again, so an update is seen on the next visit
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@router.get("/offline")
async def offline() -> Response:
    """What a page without connection shows when there is no copy of it."""
    return Response(
        (STATIC / "offline.html").read_bytes(),
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )
