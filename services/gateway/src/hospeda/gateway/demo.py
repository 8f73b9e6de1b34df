"""`make run` demo data: a company whose owner can sign in at once."""

from __future__ import annotations

import logging

from hospeda.contracts import Actor
from hospeda.gateway import repository
from hospeda.gateway.outgoing import Origin
from hospeda.gateway.service import Accounts
from hospeda.runtime.clock import Clock
from hospeda.runtime.db import Database

log = logging.getLogger(__name__)

DEMO_EMAIL = "demo@exemplo.com.br"
DEMO_PASSWORD = "demonstracao-hospeda"  # noqa: S105 - the published demo login, dev only


async def seed(accounts: Accounts, *, db: Database, clock: Clock) -> None:
    """Create the demo owner once (confirmed e-mail, no 2FA)."""
    origin = Origin(actor=Actor.system("gateway"), company_id=None, ip=None, user_agent="demo")
    try:
        async with db.transaction() as session:
            if await repository.get_user_by_email(session, DEMO_EMAIL) is not None:
                return  # already there
        await accounts.sign_up(
            origin,
            company_name="Padaria Demonstração",
            name="Conta de demonstração",
            email=DEMO_EMAIL,
            password=DEMO_PASSWORD,
            locale="pt-BR",
        )
        async with db.transaction() as session:
            user = await repository.get_user_by_email(session, DEMO_EMAIL)
            if user is not None:
                user.email_verified_at = user.email_verified_at or clock.now()
    except Exception:  # a demo never stops the platform from starting
        log.exception("could not seed the demo")
        return
    log.warning("demo login: %s (password in hospeda/gateway/demo.py)", DEMO_EMAIL)
