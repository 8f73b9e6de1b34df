"""``python -m hospeda.devstack run``: the whole platform on this machine."""

import asyncio
import sys
from pathlib import Path

from hospeda.devstack.stack import main

if len(sys.argv) < 2 or sys.argv[1] != "run":
    sys.exit("usage: python -m hospeda.devstack run")
asyncio.run(main(Path.cwd()))
