"""``python -m hospeda.gateway``: serve the API and web app;
``python -m hospeda.gateway migrate``: only bring the database up to date."""

import asyncio
import sys

import uvicorn

from hospeda.gateway.app import build_runtime, create_app
from hospeda.gateway.config import GatewaySettings

settings = GatewaySettings()
if sys.argv[1:] == ["migrate"]:
    asyncio.run(build_runtime(settings).migrate())
else:
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_config=None, lifespan="on"
    )
