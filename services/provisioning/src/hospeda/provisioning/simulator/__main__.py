"""``python -m hospeda.provisioning.simulator``: one simulated WHM server."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn

from hospeda.provisioning.simulator.server import WhmSimulator
from hospeda.provisioning.simulator.whm import DEFAULT_PACKAGES, WhmState


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hospeda.provisioning.simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2087)
    parser.add_argument("--user", default="root", help="WHM user the API token belongs to")
    parser.add_argument(
        "--token", default=os.environ.get("WHM_SIMULATOR_TOKEN"), help="the API token to accept"
    )
    parser.add_argument("--hostname", default="whm.simulado.hospeda.test")
    parser.add_argument("--shared-ip", default="192.0.2.10")
    parser.add_argument(
        "--dedicated-ips", default="192.0.2.21,192.0.2.22,192.0.2.23", help="comma-separated"
    )
    parser.add_argument(
        "--packages", default=",".join(DEFAULT_PACKAGES), help="comma-separated package names"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every call")
    parser.add_argument("--autossl-seconds", type=float, default=2.0)
    parser.add_argument("--state-file", type=Path, help="keep accounts across restarts")
    args = parser.parse_args()
    if not args.token:
        parser.error("--token (or WHM_SIMULATOR_TOKEN) is required")
    defaults = {
        "hostname": args.hostname,
        "shared_ip": args.shared_ip,
        "dedicated_ips": [ip for ip in args.dedicated_ips.split(",") if ip],
        "packages": {
            name: dict(DEFAULT_PACKAGES.get(name, DEFAULT_PACKAGES["default"]))
            for name in args.packages.split(",")
            if name
        },
        "autossl_seconds": args.autossl_seconds,
    }
    state = WhmState.load(args.state_file, **defaults) if args.state_file else WhmState(**defaults)
    simulator = WhmSimulator(
        state,
        user=args.user,
        token=args.token,
        latency=args.latency_ms / 1000,
        state_file=args.state_file,
    )
    print(f"WHM simulator on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(
        simulator.app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
