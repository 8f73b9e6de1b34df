"""``python -m hospeda.devstack.deploy``:

write              rewrite deploy/'s generated files from the code (`make deploy`)
check              exit 1 if any of them is stale
env                the env template with fresh secrets, on stdout (> deploy/.env)
secret KIND        one new secret: password, fernet or cluster-id
"""

from __future__ import annotations

import sys
from pathlib import Path

from hospeda.devstack.deploy import env, stale, write


def main(argv: list[str]) -> int:
    root = Path.cwd() / "deploy"
    match argv:
        case ["write"]:
            for relative in write(root):
                print(f"wrote deploy/{relative}")
            return 0
        case ["check"]:
            outdated = stale(root)
            for relative in outdated:
                print(f"deploy/{relative} is stale: run `make deploy`", file=sys.stderr)
            return 1 if outdated else 0
        case ["env"]:
            sys.stdout.write(env.filled())
            return 0
        case ["secret", kind] if kind in env.GENERATORS:
            print(env.GENERATORS[kind][1]())
            return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
