"""What `make run` starts for billing: the Stripe simulator, and the
settings that point billing at it.

With real Stripe keys in the environment (``BILLING_STRIPE_SECRET_KEY``)
nothing is started and nothing is overridden: billing talks to Stripe."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hospeda.devstack.servers import preferred_port
from hospeda.devstack.stack import DevPlan, ProcessSpec

SIMULATOR_KEY = "sk_test_hospeda_simulator"
SIMULATOR_WEBHOOK_SECRET = "whsec_hospeda_simulator_local"  # noqa: S105 - a local simulator's


def plan(data_dir: Path) -> DevPlan:
    if os.environ.get("BILLING_STRIPE_SECRET_KEY"):
        return DevPlan()
    stripe_port = preferred_port(12111)
    webhook_port = int(os.environ.get("BILLING_WEBHOOK_PORT") or preferred_port(8010))
    return DevPlan(
        processes=[
            ProcessSpec(
                "stripe-sim",
                [
                    sys.executable,
                    "-m",
                    "hospeda.billing.simulator",
                    "--port",
                    str(stripe_port),
                    "--api-key",
                    SIMULATOR_KEY,
                    "--webhook-url",
                    f"http://127.0.0.1:{webhook_port}/webhooks/stripe",
                    "--webhook-secret",
                    SIMULATOR_WEBHOOK_SECRET,
                ],
                port=stripe_port,
            )
        ],
        env={
            "BILLING_STRIPE_SECRET_KEY": SIMULATOR_KEY,
            "BILLING_STRIPE_WEBHOOK_SECRET": SIMULATOR_WEBHOOK_SECRET,
            "BILLING_STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port}",
            "BILLING_WEBHOOK_PORT": str(webhook_port),
            "BILLING_PIX_KEY": os.environ.get("BILLING_PIX_KEY", "financeiro@hospeda.local"),
        },
    )
