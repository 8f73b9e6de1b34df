"""The API reference at ``/docs``: Swagger UI from the ``swagger-ui-bundle`` package
installed with the gateway, served from this origin — nothing from a CDN, and no
inline script (the page's CSP allows only the app's own files)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from hospeda.gateway.api import ApiRoute, allow
from hospeda.gateway.permissions import Permission as P

ASSETS = "/docs/assets"

router = APIRouter(include_in_schema=False, route_class=ApiRoute, dependencies=[allow(P.PUBLIC)])

PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hospeda API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script></body></html>"""

START = """window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  validatorUrl: null
});
"""


@router.get("/docs")
async def docs() -> HTMLResponse:
    return HTMLResponse(PAGE)


@router.get("/docs/start.js")
async def start() -> Response:
    return Response(START, media_type="text/javascript")


def install(app: FastAPI) -> None:
    """The reference page and its files (FastAPI's own ``/docs`` and ``/redoc`` are off)."""
    app.include_router(router)
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="swagger-ui")
