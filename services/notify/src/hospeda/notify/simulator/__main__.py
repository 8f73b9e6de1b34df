"""``python -m hospeda.notify.simulator --smtp-port 1025 --http-port 8025 --maildir DIR``"""

import argparse
import asyncio
from pathlib import Path

from hospeda.notify.simulator.mailserver import serve

parser = argparse.ArgumentParser(prog="python -m hospeda.notify.simulator")
parser.add_argument("--smtp-port", type=int, default=1025)
parser.add_argument("--http-port", type=int, default=8025)
parser.add_argument("--maildir", type=Path, default=Path(".hospeda/mail"))
args = parser.parse_args()
asyncio.run(serve(smtp_port=args.smtp_port, http_port=args.http_port, maildir=args.maildir))
