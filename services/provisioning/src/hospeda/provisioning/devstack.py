"""What ``make run`` needs for provisioning: two simulated WHM servers
(accounts kept under ``.hospeda/whm-simulator/``), and the settings that
point provisioning at them. With ``PROVISIONING_WHM_SERVERS`` already set
(real servers), nothing is simulated."""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

from hospeda.devstack.servers import free_port
from hospeda.devstack.stack import DevPlan, ProcessSpec

PACKAGES = ("default", "hospeda_basico", "hospeda_profissional", "hospeda_empresarial")


def plan(data_dir: Path) -> DevPlan:
    if os.environ.get("PROVISIONING_WHM_SERVERS"):
        return DevPlan()
    state_dir = data_dir / "whm-simulator"
    state_dir.mkdir(parents=True, exist_ok=True)
    processes, servers = [], []
    for n in (1, 2):
        name, port, token = f"whm{n}", free_port(), secrets.token_hex(24)
        processes.append(
            ProcessSpec(
                f"whm-sim-{n}",
                [
                    sys.executable,
                    "-m",
                    "hospeda.provisioning.simulator",
                    "--port",
                    str(port),
                    "--hostname",
                    f"{name}.simulado.hospeda.test",
                    "--shared-ip",
                    f"192.0.2.{n * 10}",
                    "--dedicated-ips",
                    ",".join(f"192.0.2.{n * 10 + i}" for i in range(1, 4)),
                    "--packages",
                    ",".join(PACKAGES),
                    "--state-file",
                    str(state_dir / f"{name}.json"),
                ],
                env={"WHM_SIMULATOR_TOKEN": token},
                port=port,
            )
        )
        servers.append(
            {
                "name": name,
                "url": f"http://127.0.0.1:{port}",
                "token": token,
                "packages": list(PACKAGES),
                "max_accounts": 500,
                "concurrency": 4,
            }
        )
    return DevPlan(processes=processes, env={"PROVISIONING_WHM_SERVERS": json.dumps(servers)})
