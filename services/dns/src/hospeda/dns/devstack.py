"""What ``make run`` starts for the dns service: the Cloudflare API simulator
and the local DNS world, and the settings that point the service at them.

Try a delegation by hand once a service is active (the zone's nameservers are
in ``zones.get``)::

    curl -X POST http://127.0.0.1:<control>/delegate \\
         -d '{"domain": "exemplo.com.br", "nameservers": ["ada.ns.cloudflare.test", "bob.ns.cloudflare.test"]}'
"""

from __future__ import annotations

import sys
from pathlib import Path

from hospeda.devstack.servers import free_port
from hospeda.devstack.stack import DevPlan, ProcessSpec
from hospeda.dns.simulator.nameserver import ADDRESSES, ROOT, free_port_on


def plan(data_dir: Path) -> DevPlan:
    cloudflare_port = free_port()
    dns_port = free_port_on(ADDRESSES)
    control_port = free_port()
    python = sys.executable
    return DevPlan(
        processes=[
            ProcessSpec(
                "cloudflare-sim",
                [python, "-m", "hospeda.dns.simulator.cloudflare", "--port", str(cloudflare_port)],
                port=cloudflare_port,
            ),
            ProcessSpec(
                "dns-sim",
                [
                    python,
                    "-m",
                    "hospeda.dns.simulator.nameserver",
                    "--port",
                    str(dns_port),
                    "--control-port",
                    str(control_port),
                ],
                port=control_port,
            ),
        ],
        env={
            "DNS_CLOUDFLARE_BASE_URL": f"http://127.0.0.1:{cloudflare_port}/client/v4",
            "DNS_ROOT_SERVERS": ROOT,
            "DNS_RESOLVER_PORT": str(dns_port),
            "DNS_SIMULATOR_CONTROL_URL": f"http://127.0.0.1:{control_port}",
        },
    )
