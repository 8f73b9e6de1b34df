"""What `make run` starts for notify: the local mail server (read it at http://localhost:8025)."""

from __future__ import annotations

import sys
from pathlib import Path

from hospeda.devstack.servers import preferred_port
from hospeda.devstack.stack import DevPlan, ProcessSpec


def plan(data_dir: Path) -> DevPlan:
    smtp_port = preferred_port(1025)
    http_port = preferred_port(8025)
    mail_server = ProcessSpec(
        "mail",
        [
            sys.executable,
            "-m",
            "hospeda.notify.simulator",
            "--smtp-port",
            str(smtp_port),
            "--http-port",
            str(http_port),
            "--maildir",
            str(data_dir / "mail"),
        ],
        port=http_port,
    )
    return DevPlan(
        processes=[mail_server],
        env={
            "NOTIFY_SMTP_HOST": "127.0.0.1",
            "NOTIFY_SMTP_PORT": str(smtp_port),
        },
        links={"e-mails enviados / sent e-mails": f"http://localhost:{http_port}"},
    )
