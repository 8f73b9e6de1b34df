"""Pure rules of provisioning: domains, cPanel usernames, server placement and
the hosting service's life cycle. No I/O here."""

from __future__ import annotations

import ipaddress
import re
import secrets
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from hospeda.runtime.errors import PermanentError


class InvalidInput(PermanentError):
    """A command that can never be provisioned as it is (bad domain, unknown
    plan or add-on). Jobs fail at once, without retries, with this text."""


class InvalidTransition(PermanentError):
    """The service is in a state that does not allow this action."""


# --- domains ---------------------------------------------------------------------------

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


def normalize_domain(raw: str) -> str:
    """The domain in lower-case ASCII (IDNA) form, or ``InvalidInput`` saying
    what is wrong with it."""
    text = raw.strip().rstrip(".").lower()
    problem = f"domínio inválido / invalid domain: {raw!r}"
    if not text or any(c.isspace() for c in text):
        raise InvalidInput(f"{problem} (vazio ou com espaços / empty or contains spaces)")
    try:
        ascii_form = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidInput(
            f"{problem} (caracteres não permitidos / characters not allowed)"
        ) from None
    try:
        ipaddress.ip_address(ascii_form)
    except ValueError:
        pass
    else:
        raise InvalidInput(f"{problem} (é um endereço IP / is an IP address)")
    labels = ascii_form.split(".")
    if len(ascii_form) > 253 or len(labels) < 2:
        raise InvalidInput(
            f"{problem} (use um nome como exemplo.com.br / use a name like example.com)"
        )
    if not all(_LABEL.match(label) for label in labels) or not _TLD.match(labels[-1]):
        raise InvalidInput(
            f"{problem} (só letras, números e hífens entre pontos / only letters, digits and hyphens between dots)"
        )
    return ascii_form


# --- cPanel usernames --------------------------------------------------------------------

USERNAME_MAX = 16
USERNAME_PREFIX_UNIQUE = 8
"""With database prefixing on, the first 8 characters of a username must be
unique on the server (they prefix its databases); we generate 8 at most."""

RESERVED_USERNAMES = frozenset(
    {
        "abuse", "admin", "administrator", "all", "apache", "bin", "cpanel", "cpanelsolr",
        "cphulkd", "cpses", "daemon", "dnsadmin", "dovecot", "exim", "eximstats", "ftp",
        "games", "git", "horde", "leechprotect", "mail", "mailman", "munin", "mysql", "named",
        "nobody", "nscd", "operator", "postfix", "postgres", "postmaster", "proftpd",
        "pureftpd", "root", "roundcube", "shadow", "spamassassin", "sshd", "sys", "system",
        "tomcat", "toor", "virtfs", "webmaster", "whm", "www",
    }
)  # fmt: skip


def username_problem(name: str) -> str | None:
    """Why WHM would refuse ``name`` as a username, or None."""
    if not re.fullmatch(r"[a-z][a-z0-9]*", name):
        return "só letras minúsculas e números, começando por letra / lowercase letters and digits, starting with a letter"
    if len(name) > USERNAME_MAX:
        return f"no máximo {USERNAME_MAX} caracteres / at most {USERNAME_MAX} characters"
    if name.startswith("test"):
        return "não pode começar com 'test' / may not start with 'test'"
    if name in RESERVED_USERNAMES:
        return "nome reservado / reserved name"
    return None


def username_base(domain: str) -> str:
    """A readable username stem from the domain's first label, valid by WHM's rules."""
    label = domain.lower().removeprefix("www.").split(".")[0]
    stem = re.sub(r"[^a-z0-9]", "", label.removeprefix("xn--"))
    if not stem or not stem[0].isalpha():
        stem = "h" + stem
    if stem.startswith("test"):
        stem = "t" + stem[4:] if len(stem) > 4 else "tst"
    stem = stem[:USERNAME_PREFIX_UNIQUE]
    if stem in RESERVED_USERNAMES:
        stem = (stem[: USERNAME_PREFIX_UNIQUE - 1] + "h")[:USERNAME_PREFIX_UNIQUE]
    return stem


def username_candidates(domain: str) -> Iterator[str]:
    """Usernames to try for ``domain``, best first and each once: the stem,
    the stem with two digits, then random ones — all at most 8 characters."""
    base = username_base(domain)
    seen: set[str] = set()

    def fresh(candidate: str) -> bool:
        if candidate in seen or username_problem(candidate):
            return False
        seen.add(candidate)
        return True

    for candidate in (base, *(f"{base[:6]}{n:02d}" for n in range(1, 100))):
        if fresh(candidate):
            yield candidate
    while True:
        candidate = secrets.choice(string.ascii_lowercase) + "".join(
            secrets.choice(string.ascii_lowercase + string.digits) for _ in range(7)
        )
        if fresh(candidate):
            yield candidate


def generate_password(length: int = 24) -> str:
    """A strong random password (letters of both cases, digits, symbols).
    Used once and never stored, logged or sent: customers get a login link."""
    alphabet = string.ascii_letters + string.digits + "!#%*+-_=@"
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
            and any(not c.isalnum() for c in password)
        ):
            return password


# --- server placement ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerLoad:
    """A WHM server as placement sees it."""

    name: str
    active: bool
    max_accounts: int
    accounts: int
    packages: tuple[str, ...]

    @property
    def free(self) -> int:
        return self.max_accounts - self.accounts


def unknown_plan(plan_code: str, whm_package: str) -> InvalidInput:
    return InvalidInput(
        f"plano desconhecido: nenhum servidor oferece o pacote WHM {whm_package!r} (plano {plan_code!r}) "
        f"/ unknown plan: no server offers WHM package {whm_package!r} (plan {plan_code!r})"
    )


def choose_server(
    servers: Sequence[ServerLoad], *, plan_code: str, whm_package: str
) -> ServerLoad | None:
    """The least-loaded active server that offers ``whm_package`` and has room
    (ties: the emptiest by proportion, then the name). None when every such
    server is full; ``InvalidInput`` when none offers the package at all."""
    offering = [s for s in servers if s.active and whm_package in s.packages]
    if not offering:
        raise unknown_plan(plan_code, whm_package)
    fitting = [s for s in offering if s.free > 0]
    if not fitting:
        return None
    return min(fitting, key=lambda s: (s.accounts / s.max_accounts, s.accounts, s.name))


# --- the hosting service's life cycle ------------------------------------------------------------


class ServiceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"
    FAILED = "failed"


class Action(StrEnum):
    ACTIVATE = "activate"
    SUSPEND = "suspend"
    UNSUSPEND = "unsuspend"
    TERMINATE = "terminate"
    FAIL = "fail"
    MODIFY = "modify"  # package, password, add-ons: the account must exist


S = ServiceState
_ALLOWED: dict[Action, frozenset[ServiceState]] = {
    Action.ACTIVATE: frozenset({S.PENDING, S.FAILED, S.ACTIVE}),
    Action.SUSPEND: frozenset({S.ACTIVE, S.SUSPENDED}),
    Action.UNSUSPEND: frozenset({S.SUSPENDED, S.ACTIVE}),
    Action.TERMINATE: frozenset(set(S)),
    Action.FAIL: frozenset({S.PENDING, S.FAILED}),
    Action.MODIFY: frozenset({S.ACTIVE, S.SUSPENDED}),
}
_RESULT: dict[Action, ServiceState | None] = {
    Action.ACTIVATE: S.ACTIVE,
    Action.SUSPEND: S.SUSPENDED,
    Action.UNSUSPEND: S.ACTIVE,
    Action.TERMINATE: S.TERMINATED,
    Action.FAIL: S.FAILED,
    Action.MODIFY: None,
}
_PT = {
    S.PENDING: "em criação",
    S.ACTIVE: "ativo",
    S.SUSPENDED: "suspenso",
    S.TERMINATED: "encerrado",
    S.FAILED: "com falha na criação",
}


def check(state: ServiceState | str, action: Action) -> ServiceState:
    """The state after ``action``, or ``InvalidTransition`` saying why not."""
    current = ServiceState(state)
    if current not in _ALLOWED[action]:
        raise InvalidTransition(
            f"o serviço está {_PT[current]}; não é possível {action.value} "
            f"/ the service is {current.value}; cannot {action.value} it"
        )
    return _RESULT[action] or current
