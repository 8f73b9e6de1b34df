"""Billing's webhook ingress alone, for the benchmark (no broker needed:
what it applies goes to the outbox).

python billing_ingress.py <database_url> <port> <webhook_secret>
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from hospeda.billing.app import build
from hospeda.billing.config import BillingSettings
from hospeda.billing.webhooks import webhook_app
from hospeda.runtime.migrate import upgrade


async def main(url: str, port: int, secret: str) -> None:
    settings = BillingSettings(
        DATABASE_URL=url,
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",
        HOSPEDA_ENV="test",
        HOSPEDA_LOG_LEVEL="WARNING",
        webhook_port=0,
        stripe_secret_key="sk_test_bench",
        stripe_webhook_secret=secret,
        stripe_api_base="http://127.0.0.1:9",
    )
    app = build(settings)
    await upgrade(app.runtime.db, *app.runtime.migrations)
    config = uvicorn.Config(
        webhook_app(app.billing), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    await uvicorn.Server(config).serve()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
    except ImportError:
        asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
