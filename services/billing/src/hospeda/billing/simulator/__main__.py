"""``python -m hospeda.billing.simulator``: run the Stripe simulator."""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn

from hospeda.billing.simulator.app import StripeSimulator, create_app


def main() -> None:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m hospeda.billing.simulator")
    parser.add_argument("--host", default=env("STRIPE_SIM_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("STRIPE_SIM_PORT", "12111")))
    parser.add_argument("--api-key", default=env("STRIPE_SIM_API_KEY", "sk_test_hospeda_simulator"))
    parser.add_argument("--webhook-url", default=env("STRIPE_SIM_WEBHOOK_URL"))
    parser.add_argument(
        "--webhook-secret", default=env("STRIPE_SIM_WEBHOOK_SECRET", "whsec_hospeda_simulator")
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    simulator = StripeSimulator(
        api_key=args.api_key,
        webhook_secret=args.webhook_secret,
        webhook_url=args.webhook_url,
        public_url=f"http://{args.host}:{args.port}",
    )
    uvicorn.run(
        create_app(simulator), host=args.host, port=args.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
