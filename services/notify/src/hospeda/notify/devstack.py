"""What `make run` starts for notify: the local mail server (read it at http://localhost:8025)."""

from __future__ import annotations

import sys
from pathlib import Path

from hospeda.devstack.servers import free_port, port_open
from hospeda.devstack.stack import DevPlan, ProcessSpec


def plan(data_dir: Path) -> DevPlan:
    smtp_port = 1025 if not port_open("127.0.0.1", 1025) else free_port()
    http_port = 8025 if not port_open("127.0.0.1", 8025) else free_port()
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
