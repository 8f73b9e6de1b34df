"""A service's liveness, for container health checks: while the service runs,
its event loop touches ``HOSPEDA_HEARTBEAT_FILE`` every few seconds; the
check passes while the file is fresh.

    python -m hospeda.runtime.heartbeat /tmp/hospeda.heartbeat --max-age 30
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

INTERVAL_S = 5.0


async def beat(path: Path, *, interval_s: float = INTERVAL_S) -> None:
    """Touch ``path`` until cancelled (a ``runtime.background`` loop)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        await asyncio.to_thread(path.touch)
        await asyncio.sleep(interval_s)


def is_fresh(path: Path, *, max_age_s: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime <= max_age_s
    except FileNotFoundError:
        return False


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m hospeda.runtime.heartbeat")
    parser.add_argument("path", type=Path)
    parser.add_argument("--max-age", type=float, default=30.0, help="seconds")
    args = parser.parse_args(argv)
    if is_fresh(args.path, max_age_s=args.max_age):
        return 0
    print(f"no heartbeat in {args.path} for {args.max_age:.0f}s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
