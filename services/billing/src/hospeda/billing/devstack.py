"""What `make run` starts for billing: the Stripe simulator and the Pix PSP
simulator, and the settings that point billing at them.

With real Stripe keys in the environment (``BILLING_STRIPE_SECRET_KEY``)
the Stripe simulator is not started and billing talks to Stripe; with a PSP
in ``BILLING_PIX_PSP_URL``, the same for Pix."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hospeda.devstack.servers import preferred_port
from hospeda.devstack.stack import DevPlan, ProcessSpec

SIMULATOR_KEY = "sk_test_hospeda_simulator"
SIMULATOR_WEBHOOK_SECRET = "whsec_hospeda_simulator_local"  # noqa: S105 - a local simulator's
PSP_CLIENT = ("hospeda-local", "psp-simulator-local-secret")
PSP_WEBHOOK_SECRET = "psp-simulator-local-webhook-secret"  # noqa: S105 - a local simulator's


def plan(data_dir: Path) -> DevPlan:
    webhook_port = int(os.environ.get("BILLING_WEBHOOK_PORT") or preferred_port(8010))
    pix_key = os.environ.get("BILLING_PIX_KEY", "financeiro@hospeda.local")
    stripe = DevPlan() if os.environ.get("BILLING_STRIPE_SECRET_KEY") else _stripe(webhook_port)
    psp = DevPlan() if os.environ.get("BILLING_PIX_PSP_URL") else _psp(webhook_port, pix_key)
    return DevPlan(
        processes=[*stripe.processes, *psp.processes],
        env={
            **stripe.env,
            **psp.env,
            "BILLING_WEBHOOK_PORT": str(webhook_port),
            "BILLING_PIX_KEY": pix_key,
        },
    )


def _psp(webhook_port: int, pix_key: str) -> DevPlan:
    port = preferred_port(12112)
    return DevPlan(
        processes=[
            ProcessSpec(
                "pix-psp-sim",
                [
                    sys.executable,
                    "-m",
                    "hospeda.billing.simulator.psp",
                    "--port",
                    str(port),
                    "--key",
                    pix_key,
                    "--client-id",
                    PSP_CLIENT[0],
                    "--client-secret",
                    PSP_CLIENT[1],
                    "--webhook-secret",
                    PSP_WEBHOOK_SECRET,
                ],
                port=port,
            )
        ],
        env={
            "BILLING_PIX_PSP_URL": f"http://127.0.0.1:{port}/api/v2",
            "BILLING_PIX_PSP_TOKEN_URL": f"http://127.0.0.1:{port}/oauth/token",
            "BILLING_PIX_PSP_CLIENT_ID": PSP_CLIENT[0],
            "BILLING_PIX_PSP_CLIENT_SECRET": PSP_CLIENT[1],
            "BILLING_PIX_WEBHOOK_SECRET": PSP_WEBHOOK_SECRET,
            "BILLING_PIX_WEBHOOK_URL": f"http://127.0.0.1:{webhook_port}/webhooks/pix",
            # the web app's Pix button uses this PSP, and links to its test bank
            "GATEWAY_PIX_METHOD": "pix",
            "GATEWAY_DEMO_PIX_BANK_URL": f"http://127.0.0.1:{port}/pagar",
        },
    )


def _stripe(webhook_port: int) -> DevPlan:
    stripe_port = preferred_port(12111)
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
        },
    )
