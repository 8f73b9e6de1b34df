"""``python -m hospeda.gateway``: serve the API and web app."""

import uvicorn

from hospeda.gateway.app import create_app
from hospeda.gateway.config import GatewaySettings

settings = GatewaySettings()
uvicorn.run(
    create_app(settings), host=settings.host, port=settings.port, log_config=None, lifespan="on"
)
