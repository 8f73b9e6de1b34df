"""The local stack's processes never outlive it: a `make run` or an e2e test
killed with SIGKILL leaves no service behind, polling Kafka on a shared machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

STACK_THAT_SPAWNS_A_SLEEPER = """
import asyncio, os, sys
from pathlib import Path
from hospeda.devstack.stack import ProcessSpec, Stack

async def main():
    stack = Stack(root=Path.cwd(), gateway_port=1, environ=dict(os.environ), echo=False)
    sleeper = ProcessSpec(name="sleeper", command=[sys.executable, "-c", "import time; time.sleep(120)"])
    running = await stack.spawn(sleeper, "31")
    print(running.process.pid, flush=True)
    await asyncio.sleep(120)

asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = (
        Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}").exists() else "X"
    )
    return state != "Z"


def test_a_killed_stack_takes_its_processes_with_it() -> None:
    stack = subprocess.Popen(
        [sys.executable, "-c", STACK_THAT_SPAWNS_A_SLEEPER], stdout=subprocess.PIPE, text=True
    )
    assert stack.stdout is not None
    child = int(stack.stdout.readline())
    assert _alive(child)
    stack.send_signal(signal.SIGKILL)
    stack.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the service outlived its stack"
