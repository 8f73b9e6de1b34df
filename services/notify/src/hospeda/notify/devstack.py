"""What `make run` starts for notify: the local mail server (read it at
http://localhost:8025), the local push service (http://localhost:8030), and
the VAPID key pair and unsubscribe secret, kept under the data directory so
browsers stay subscribed across runs."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from hospeda.devstack.servers import preferred_port
from hospeda.devstack.stack import DevPlan, ProcessSpec
from hospeda.notify.vapid import generate_vapid_key


def _kept(path: Path, make: str) -> str:
    """A local secret made once and reused (readable by its owner only)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make)
        path.chmod(0o600)
    return path.read_text().strip()


def plan(data_dir: Path) -> DevPlan:
    smtp_port = preferred_port(1025)
    http_port = preferred_port(8025)
    push_port = preferred_port(8030)
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
    push_service = ProcessSpec(
        "push-sim",
        [sys.executable, "-m", "hospeda.notify.simulator.pushserver", "--port", str(push_port)],
        port=push_port,
    )
    gateway = f"http://localhost:{os.environ.get('GATEWAY_PORT', '8000')}"
    env = {
        "NOTIFY_SMTP_HOST": "127.0.0.1",
        "NOTIFY_SMTP_PORT": str(smtp_port),
        "NOTIFY_APP_URL": gateway,
    }
    if not os.environ.get("NOTIFY_VAPID_PRIVATE_KEY"):
        env["NOTIFY_VAPID_PRIVATE_KEY"] = _kept(data_dir / "notify-vapid.key", generate_vapid_key())
    if not os.environ.get("NOTIFY_UNSUBSCRIBE_SECRET"):
        env["NOTIFY_UNSUBSCRIBE_SECRET"] = _kept(
            data_dir / "notify-unsubscribe.secret", secrets.token_urlsafe(32)
        )
    return DevPlan(
        processes=[mail_server, push_service],
        env=env,
        links={
            "e-mails enviados / sent e-mails": f"http://localhost:{http_port}",
            "push recebidos / pushes received": f"http://localhost:{push_port}",
        },
    )
