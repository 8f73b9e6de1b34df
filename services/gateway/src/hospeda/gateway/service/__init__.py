"""The gateway's use cases (identity), by area.

Each use case owns its transaction: it opens it, and whatever it changes and
every message it sends (identity events, notification requests, audit
records, through ``outgoing``) commit together. Sessions live in Redis and
change only after the transaction commits. Routes never open a transaction.

- ``accounts``: sign-up, e-mail confirmation, password reset and change, the
  person's profile (``Accounts``);
- ``sign_in``: signing in and out, two-factor authentication and recovery
  codes (``SignIn``);
- ``companies``: the company's profile, members, invitations, roles, switching
  the active company (``Companies``);
- ``tokens``: API tokens (``Tokens``);
- ``passkeys``: WebAuthn passkeys and signing in with one (``Passkeys``);
- ``staff``: staff roles, finding companies, acting on one (``Staff``);
- ``core``: the little they share (``IdentityParts``, what each area is built
  from; ``IdentityCore``, their base). No area calls another.
"""

from hospeda.gateway.service.accounts import Accounts, Profile
from hospeda.gateway.service.companies import Companies
from hospeda.gateway.service.core import IdentityParts
from hospeda.gateway.service.passkeys import Passkeys
from hospeda.gateway.service.sign_in import SignIn
from hospeda.gateway.service.staff import Staff
from hospeda.gateway.service.tokens import NewToken, Tokens

__all__ = [
    "Accounts",
    "Companies",
    "IdentityParts",
    "NewToken",
    "Passkeys",
    "Profile",
    "SignIn",
    "Staff",
    "Tokens",
]
