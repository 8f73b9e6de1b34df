"""``python -m hospeda.gateway``: serve the API and web app;
``python -m hospeda.gateway migrate``: only bring the database up to date."""

import asyncio
import sys

import uvicorn

from hospeda.gateway.app import build_runtime, create_app, uvicorn_options
from hospeda.gateway.config import GatewaySettings
from hospeda.runtime.telemetry import setup_logging

settings = GatewaySettings()
setup_logging("gateway", level=settings.log_level, json_lines=settings.log_json)  # JSON from line 1
if sys.argv[1:] == ["migrate"]:
    asyncio.run(build_runtime(settings).migrate())
else:
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, **uvicorn_options(settings)
    )
