"""Starting the mail server and the notify service for tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hospeda.devstack.servers import free_port, wait_for_port
from hospeda.notify.app import create_runtime
from hospeda.notify.config import NotifySettings
from hospeda.runtime.service import ServiceRuntime


@dataclass
class MailServer:
    smtp_port: int
    http_url: str

    def messages(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.http_url}/messages").json()

    def fail_next(self, count: int, code: int = 451) -> None:
        httpx.post(
            f"{self.http_url}/control", json={"fail_next": count, "code": code}
        ).raise_for_status()


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[MailServer]:
    smtp_port, http_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hospeda.notify.simulator",
            "--smtp-port",
            str(smtp_port),
            "--http-port",
            str(http_port),
            "--maildir",
            str(tmp_path / "mail"),
        ],
    )
    try:
        wait_for_port("127.0.0.1", http_port, timeout=20, process=process)
        wait_for_port("127.0.0.1", smtp_port, timeout=20, process=process)
        yield MailServer(smtp_port, f"http://127.0.0.1:{http_port}")
    finally:
        process.terminate()
        process.wait(10)


def notify_settings(
    database_url: str, kafka_bootstrap: str, mail: MailServer, **extra: Any
) -> NotifySettings:
    return NotifySettings(
        DATABASE_URL=database_url,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        HOSPEDA_ENV="test",
        HOSPEDA_LOG_JSON=False,
        HOSPEDA_KAFKA_SESSION_TIMEOUT_MS=2000,
        smtp_port=mail.smtp_port,
        retry_base_delay_s=0.2,
        retry_max_attempts=3,
        **extra,
    )


def notify_runtime(database_url: str, kafka_bootstrap: str, mail: MailServer) -> ServiceRuntime:
    return create_runtime(notify_settings(database_url, kafka_bootstrap, mail))
