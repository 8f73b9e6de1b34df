"""Operator commands for identity that no web form should offer.

    python -m hospeda.gateway.admin staff <email> <superadmin|support|billing|operator|auditor|none>

makes a person staff (or no longer staff). The change is audited; staff
permissions work once the person has 2FA on.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import redis.asyncio as redis

from hospeda.contracts import Actor
from hospeda.gateway import repository
from hospeda.gateway.config import GatewaySettings
from hospeda.gateway.domain import normalise_email
from hospeda.gateway.limits import Limiter
from hospeda.gateway.outgoing import Origin
from hospeda.gateway.permissions import StaffRole
from hospeda.gateway.security import Passwords
from hospeda.gateway.service import IdentityParts, Staff
from hospeda.gateway.sessions import Sessions
from hospeda.runtime.clock import SystemClock
from hospeda.runtime.db import Database
from hospeda.runtime.migrate import service_migrations, upgrade


async def set_staff(email: str, role: StaffRole | None) -> int:
    # the staff use cases alone: no broker needed (the outbox is published once the gateway runs)
    settings = GatewaySettings()
    database = Database(settings.database_url)
    client = redis.from_url(settings.redis_url)
    staff = Staff(
        IdentityParts(
            db=database,
            settings=settings,
            passwords=Passwords(settings),
            sessions=Sessions(client, settings),
            limiter=Limiter(client, settings),
            clock=SystemClock(),
        )
    )
    try:
        await upgrade(database, service_migrations("gateway"))
        async with database.transaction() as db:
            user = await repository.get_user_by_email(db, normalise_email(email))
        if user is None:
            print(f"nenhuma conta com {email} / no account with {email}", file=sys.stderr)
            return 1
        origin = Origin(
            actor=Actor.system("gateway-admin"), company_id=None, ip=None, user_agent="cli"
        )
        await staff.set_staff_role(origin, user.id, role)
        print(f"{email}: {role.value if role else 'none'}")
        return 0
    finally:
        await database.dispose()
        await client.aclose()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m hospeda.gateway.admin")
    sub = parser.add_subparsers(dest="command", required=True)
    staff = sub.add_parser("staff", help="set or remove a person's staff role")
    staff.add_argument("email")
    staff.add_argument("role", choices=[*(r.value for r in StaffRole), "none"])
    args = parser.parse_args(argv)
    role = None if args.role == "none" else StaffRole(args.role)
    return asyncio.run(set_staff(args.email, role))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
