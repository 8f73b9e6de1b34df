"""What the simulated WHM server knows and how it answers: accounts,
packages, IP addresses, databases, mailboxes, AutoSSL and ModSecurity, with
WHM's own validation (it deliberately does not reuse provisioning's rules, so
it can catch them being wrong).

Functions take the request's parameters and return ``data``, or raise
``Refusal`` (WHM's ``metadata.result: 0``) / ``UapiErrors`` (UAPI
``status: 0``)."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESERVED = frozenset(
    [
        "abuse",
        "admin",
        "administrator",
        "all",
        "apache",
        "bin",
        "cpanel",
        "cpanelsolr",
        "cphulkd",
        "cpses",
        "daemon",
        "dnsadmin",
        "dovecot",
        "exim",
        "eximstats",
        "ftp",
        "games",
        "git",
        "horde",
        "leechprotect",
        "mail",
        "mailman",
        "munin",
        "mysql",
        "named",
        "nobody",
        "nscd",
        "operator",
        "postfix",
        "postgres",
        "postmaster",
        "proftpd",
        "pureftpd",
        "root",
        "roundcube",
        "shadow",
        "spamassassin",
        "sshd",
        "sys",
        "system",
        "tomcat",
        "toor",
        "virtfs",
        "webmaster",
        "whm",
        "www",
    ]
)
_DOMAIN = re.compile(
    r"^(?=.{4,253}$)((?!-)[a-z0-9-]{1,63}(?<!-)\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$"
)
_DB_NAME = re.compile(r"^[a-z0-9_]+$")
_LOCAL_PART = re.compile(r"^[a-z0-9._+-]{1,64}$")

DEFAULT_PACKAGES: dict[str, dict[str, str]] = {
    name: {"QUOTA": quota, "MAXPOP": maxpop, "MAXSQL": "unlimited", "MAX_EMAIL_PER_HOUR": "200"}
    for name, quota, maxpop in (
        ("default", "unlimited", "unlimited"),
        ("hospeda_basico", "5120", "5"),
        ("hospeda_profissional", "20480", "20"),
        ("hospeda_empresarial", "51200", "unlimited"),
    )
}


class Refusal(Exception):
    """WHM refused: ``metadata.result`` 0 with this reason."""


class UapiErrors(Exception):
    """The cPanel function failed: UAPI ``status`` 0 with these errors."""


@dataclass
class Account:
    user: str
    domain: str
    plan: str
    email: str
    ip: str
    password: str  # a simulator keeps it so tests can prove it never leaks elsewhere
    startdate: float
    suspended: bool = False
    suspendreason: str = "not suspended"
    backup: bool = False
    maxpop: str = "unlimited"
    max_email_per_hour: str = "200"
    modsecurity: bool = False
    databases: list[str] = field(default_factory=list)
    db_users: list[str] = field(default_factory=list)
    privileges: dict[str, list[str]] = field(default_factory=dict)
    mailboxes: dict[str, int] = field(default_factory=dict)
    autossl_until: float | None = None
    secured: list[str] = field(default_factory=list)
    autossl_problems: list[dict[str, Any]] = field(default_factory=list)
    autossl_excluded: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """As ``listaccts`` / ``accountsummary`` show it."""
        return {
            "user": self.user,
            "domain": self.domain,
            "plan": self.plan,
            "email": self.email,
            "ip": self.ip,
            "suspended": int(self.suspended),
            "suspendreason": self.suspendreason,
            "backup": int(self.backup),
            "maxpop": self.maxpop,
            "max_email_per_hour": self.max_email_per_hour,
            "owner": "root",
            "partition": "home",
            "disklimit": "unlimited",
            "diskused": "0M",
            "startdate": time.strftime("%y %b %d %H:%M", time.gmtime(self.startdate)),
            "unix_startdate": int(self.startdate),
        }


@dataclass
class Fault:
    """Something to go wrong on the next ``times`` calls of ``function``
    (``*`` for any; ``Module::function`` for a UAPI function).

    kinds: ``error`` (HTTP ``status``, default 500), ``refuse`` (``result: 0``
    with ``reason``), ``timeout`` (hold the request ``delay`` seconds, then
    504; with ``after`` the call takes effect first, as when WHM is slow to
    answer work it did), ``slow`` (wait ``delay`` seconds, then answer)."""

    function: str
    kind: str
    times: int = 1
    delay: float = 30.0
    status: int = 500
    reason: str = "Simulated failure"
    after: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("error", "refuse", "timeout", "slow"):
            raise ValueError(f"unknown fault kind {self.kind!r}")


@dataclass
class WhmState:
    """One simulated WHM server."""

    hostname: str = "whm.simulado.hospeda.test"
    shared_ip: str = "192.0.2.10"
    dedicated_ips: list[str] = field(
        default_factory=lambda: ["192.0.2.21", "192.0.2.22", "192.0.2.23"]
    )
    packages: dict[str, dict[str, str]] = field(default_factory=lambda: dict(DEFAULT_PACKAGES))
    autossl_seconds: float = 0.3
    accounts: dict[str, Account] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    dcv_failing: list[str] = field(default_factory=list)

    # --- bookkeeping ------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "hostname": self.hostname,
            "shared_ip": self.shared_ip,
            "dedicated_ips": self.dedicated_ips,
            "packages": self.packages,
            "accounts": {u: asdict(a) for u, a in self.accounts.items()},
            "dcv_failing": self.dcv_failing,
        }

    def save(self, path: Path) -> None:
        """Write the state to ``path`` (without passwords: they live in memory only)."""
        snapshot = self.snapshot()
        for account in snapshot["accounts"].values():
            account["password"] = ""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(snapshot))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, **defaults: Any) -> WhmState:
        state = cls(**defaults)
        if path.exists():
            saved = json.loads(path.read_text())
            state.accounts = {u: Account(**a) for u, a in saved.get("accounts", {}).items()}
            state.dcv_failing = list(saved.get("dcv_failing", []))
        return state

    def _account(self, user: str | None) -> Account:
        account = self.accounts.get(user or "")
        if account is None:
            raise Refusal(f"The user “{user}” does not exist.")
        return account

    def _by_domain(self, domain: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.domain == domain), None)

    # --- WHM API 1 ----------------------------------------------------------------------

    def createacct(self, p: dict[str, str], base_url: str) -> tuple[Any, str]:
        user = p.get("username", "").lower()
        domain = p.get("domain", "").lower().rstrip(".")
        plan = p.get("plan") or "default"
        if not user:
            raise Refusal("You must specify a username.")
        if not re.fullmatch(r"[a-z][a-z0-9]*", user):
            raise Refusal(
                f"Invalid username “{user}”: usernames may contain only lowercase letters and digits and must begin with a letter."
            )
        if len(user) > 16:
            raise Refusal(f"Invalid username “{user}”: usernames may not exceed 16 characters.")
        if user.startswith("test"):
            raise Refusal(f"Invalid username “{user}”: usernames may not begin with “test”.")
        if user in RESERVED:
            raise Refusal(f"The username “{user}” is reserved.")
        if user in self.accounts:
            raise Refusal(f"Sorry, a user named “{user}” already exists.")
        if any(u[:8] == user[:8] for u in self.accounts):
            raise Refusal(
                f"The first eight characters of “{user}” must be unique on this server (database prefixing is on)."
            )
        if not _DOMAIN.match(domain):
            raise Refusal(f"“{domain}” is not a valid domain name.")
        if self._by_domain(domain) is not None:
            raise Refusal(f"The domain “{domain}” already exists in the userdata.")
        if plan not in self.packages:
            raise Refusal(f"The package “{plan}” does not exist.")
        password = p.get("password", "")
        if len(password) < 8:
            raise Refusal(
                "Sorry, the password you selected cannot be used because it is too weak and would be too easy to guess."
            )
        email = p.get("contactemail", "")
        if email and "@" not in email:
            raise Refusal(f"“{email}” is not a valid email address.")
        ip = self.shared_ip
        if p.get("ip") == "y":
            ip = self._free_ip() or self.shared_ip
        package = self.packages[plan]
        self.accounts[user] = Account(
            user=user,
            domain=domain,
            plan=plan,
            email=email,
            ip=ip,
            password=password,
            startdate=time.time(),
            maxpop=package.get("MAXPOP", "unlimited"),
            max_email_per_hour=package.get("MAX_EMAIL_PER_HOUR", "200"),
        )
        data = {
            "ip": ip,
            "nameserver": "ns1.hospeda.test",
            "nameserver2": "ns2.hospeda.test",
            "package": plan,
        }
        return data, "Account Creation Ok"

    def accountsummary(self, p: dict[str, str]) -> Any:
        account = self.accounts.get(p.get("user", "")) or self._by_domain(p.get("domain", ""))
        if account is None:
            raise Refusal(f"Account “{p.get('user') or p.get('domain')}” does not exist.")
        return {"acct": [account.row()]}

    def listaccts(self, p: dict[str, str]) -> Any:
        search = p.get("search")
        field_name = {
            "user": "user",
            "domain": "domain",
            "ip": "ip",
            "package": "plan",
            "owner": "user",
        }.get(p.get("searchtype", "user"), "user")
        rows = []
        for account in sorted(self.accounts.values(), key=lambda a: a.user):
            value = str(getattr(account, field_name))
            if search:
                if p.get("searchmethod") == "exact":
                    if value != search:
                        continue
                elif not re.search(search, value):
                    continue
            rows.append(account.row())
        return {"acct": rows}

    def suspendacct(self, p: dict[str, str]) -> Any:
        account = self._account(p.get("user"))
        if account.suspended:
            raise Refusal(f"The account “{account.user}” is already suspended.")
        account.suspended, account.suspendreason = True, p.get("reason") or "Unknown"
        return None

    def unsuspendacct(self, p: dict[str, str]) -> Any:
        account = self._account(p.get("user"))
        if not account.suspended:
            raise Refusal(f"The account “{account.user}” is not suspended.")
        account.suspended, account.suspendreason = False, "not suspended"
        return None

    def removeacct(self, p: dict[str, str]) -> Any:
        account = self._account(p.get("username") or p.get("user"))
        del self.accounts[account.user]
        return None

    def changepackage(self, p: dict[str, str]) -> Any:
        account = self._account(p.get("user"))
        package = p.get("pkg", "")
        if package not in self.packages:
            raise Refusal(f"The package “{package}” does not exist.")
        account.plan = package
        account.maxpop = self.packages[package].get("MAXPOP", "unlimited")
        return None

    def passwd(self, p: dict[str, str]) -> Any:
        account = self._account(p.get("user"))
        if len(p.get("password", "")) < 8:
            raise Refusal("Sorry, the password you selected cannot be used because it is too weak.")
        account.password = p["password"]
        return {"app": "system"}

    def create_user_session(self, p: dict[str, str], base_url: str) -> Any:
        account = self._account(p.get("user"))
        if p.get("service") not in ("cpaneld", "webmaild"):
            raise Refusal("Invalid service.")
        token = secrets.token_hex(8)
        session = f"{account.user}:{secrets.token_urlsafe(24)}"
        expires = int(time.time()) + 900
        self.sessions[session] = {"user": account.user, "expires": expires, "used": False}
        url = f"{base_url}/cpsess{token}/login/?session={session}"
        if p.get("app"):
            url += f"&app={p['app']}"
        return {
            "url": url,
            "session": session,
            "expires": expires,
            "service": p["service"],
            "cp_security_token": f"/cpsess{token}",
        }

    def login(self, session: str) -> str | None:
        """Use a session link (once); the username it logs in, or None."""
        entry = self.sessions.get(session)
        if entry is None or entry["used"] or entry["expires"] < time.time():
            return None
        entry["used"] = True
        return str(entry["user"])

    def listpkgs(self, p: dict[str, str]) -> Any:
        return {"pkg": [{"name": name, **values} for name, values in sorted(self.packages.items())]}

    def getpkginfo(self, p: dict[str, str]) -> Any:
        name = p.get("pkg", "")
        if name not in self.packages:
            raise Refusal(f"The package “{name}” does not exist.")
        return {"pkg": dict(self.packages[name])}

    def modifyacct(self, p: dict[str, str]) -> Any:
        account = self._account(p.get("user"))
        if "MAXPOP" in p:
            account.maxpop = p["MAXPOP"]
        if "MAX_EMAIL_PER_HOUR" in p:
            account.max_email_per_hour = p["MAX_EMAIL_PER_HOUR"]
        return {"newcfg": {"user": account.user, "domain": account.domain}}

    def _used_ips(self) -> set[str]:
        return {a.ip for a in self.accounts.values() if a.ip != self.shared_ip}

    def _free_ip(self) -> str | None:
        used = self._used_ips()
        return next((ip for ip in self.dedicated_ips if ip not in used), None)

    def listips(self, p: dict[str, str]) -> Any:
        used = self._used_ips()
        rows = [
            {
                "ip": self.shared_ip,
                "mainaddr": 1,
                "used": 1,
                "dedicated": 0,
                "if": "eth0",
                "netmask": "255.255.255.0",
            }
        ]
        rows += [
            {
                "ip": ip,
                "mainaddr": 0,
                "used": int(ip in used),
                "dedicated": 1,
                "if": "eth0",
                "netmask": "255.255.255.0",
            }
            for ip in self.dedicated_ips
        ]
        return {"ip": rows}

    def setsiteip(self, p: dict[str, str]) -> Any:
        account = self._account(p.get("user"))
        ip = p.get("ip", "")
        if ip != self.shared_ip:
            if ip not in self.dedicated_ips:
                raise Refusal(f"The IP address “{ip}” is not configured on this server.")
            if ip in self._used_ips() and account.ip != ip:
                raise Refusal(f"The IP address “{ip}” is already dedicated to another account.")
        account.ip = ip
        return None

    def toggle_user_backup_state(self, p: dict[str, str]) -> Any:
        account = self._account(p.get("user"))
        account.backup = not account.backup
        return {"toggle_status": int(account.backup)}

    # --- UAPI (cPanel functions run as an account) ----------------------------------------------

    def uapi(self, account: Account, module: str, function: str, p: dict[str, str]) -> Any:
        handler: Callable[[Account, dict[str, str]], Any] | None = getattr(
            self, f"u_{module}_{function}", None
        )
        if handler is None:
            raise UapiErrors([f"The module “{module}” has no function “{function}”."])
        return handler(account, p)

    def u_Mysql_create_database(self, a: Account, p: dict[str, str]) -> Any:
        name = p.get("name", "")
        if not name.startswith(f"{a.user}_"):
            raise UapiErrors([f"The name “{name}” must begin with the prefix “{a.user}_”."])
        if len(name) > 64 or not _DB_NAME.match(name):
            raise UapiErrors([f"“{name}” is not a valid database name."])
        if name in a.databases:
            raise UapiErrors([f"The database “{name}” already exists."])
        a.databases.append(name)
        return None

    def u_Mysql_list_databases(self, a: Account, p: dict[str, str]) -> Any:
        return [
            {
                "database": db,
                "disk_usage": 0,
                "users": [k.split("@")[0] for k in a.privileges if k.endswith(f"@{db}")],
            }
            for db in a.databases
        ]

    def u_Mysql_create_user(self, a: Account, p: dict[str, str]) -> Any:
        name = p.get("name", "")
        if not name.startswith(f"{a.user}_"):
            raise UapiErrors([f"The name “{name}” must begin with the prefix “{a.user}_”."])
        if len(name) > 47 or not _DB_NAME.match(name):
            raise UapiErrors([f"“{name}” is not a valid database user name."])
        if len(p.get("password", "")) < 8:
            raise UapiErrors(["The password is too weak."])
        if name in a.db_users:
            raise UapiErrors([f"The user “{name}” already exists."])
        a.db_users.append(name)
        return None

    def u_Mysql_list_users(self, a: Account, p: dict[str, str]) -> Any:
        return [
            {
                "user": u,
                "databases": [k.split("@")[1] for k in a.privileges if k.startswith(f"{u}@")],
            }
            for u in a.db_users
        ]

    def u_Mysql_set_privileges_on_database(self, a: Account, p: dict[str, str]) -> Any:
        user, database = p.get("user", ""), p.get("database", "")
        if user not in a.db_users:
            raise UapiErrors([f"The user “{user}” does not exist."])
        if database not in a.databases:
            raise UapiErrors([f"The database “{database}” does not exist."])
        a.privileges[f"{user}@{database}"] = [
            x.strip() for x in p.get("privileges", "").split(",") if x.strip()
        ]
        return None

    def u_Mysql_get_privileges_on_database(self, a: Account, p: dict[str, str]) -> Any:
        return a.privileges.get(f"{p.get('user')}@{p.get('database')}", [])

    def u_Email_add_pop(self, a: Account, p: dict[str, str]) -> Any:
        local, domain = p.get("email", "").lower(), p.get("domain", "").lower()
        if "@" in local:
            local, domain = local.split("@", 1)
        if domain != a.domain:
            raise UapiErrors([f"The domain “{domain}” does not belong to the account."])
        if not _LOCAL_PART.match(local):
            raise UapiErrors([f"“{local}” is not a valid email account name."])
        if len(p.get("password", "")) < 5:
            raise UapiErrors(["The password is too weak."])
        if a.maxpop not in ("unlimited", "0") and len(a.mailboxes) >= int(a.maxpop):
            raise UapiErrors(["The account has reached its maximum number of email accounts."])
        address = f"{local}@{domain}"
        if address in a.mailboxes:
            raise UapiErrors([f"The account {address} already exists!"])
        a.mailboxes[address] = int(p.get("quota") or 0)
        return f"{local}+{domain}"

    def u_Email_list_pops(self, a: Account, p: dict[str, str]) -> Any:
        return [{"email": email, "login": email} for email in a.mailboxes]

    def _settle_autossl(self, a: Account) -> None:
        if a.autossl_until is None or time.time() < a.autossl_until:
            return
        a.autossl_until = None
        a.autossl_problems = []
        if a.domain in a.autossl_excluded:
            return
        if a.domain in self.dcv_failing:
            a.autossl_problems.append(
                {
                    "domain": a.domain,
                    "problem": f"DNS DCV: The domain “{a.domain}” does not resolve to this server.",
                    "time": int(time.time()),
                }
            )
            return
        for host in (a.domain, f"www.{a.domain}"):
            if host not in a.secured:
                a.secured.append(host)

    def u_SSL_start_autossl_check(self, a: Account, p: dict[str, str]) -> Any:
        self._settle_autossl(a)
        if a.autossl_until is None:
            a.autossl_until = time.time() + self.autossl_seconds
        return None

    def u_SSL_is_autossl_check_in_progress(self, a: Account, p: dict[str, str]) -> Any:
        self._settle_autossl(a)
        return int(a.autossl_until is not None)

    def u_SSL_get_autossl_problems(self, a: Account, p: dict[str, str]) -> Any:
        self._settle_autossl(a)
        return a.autossl_problems

    def u_SSL_installed_hosts(self, a: Account, p: dict[str, str]) -> Any:
        self._settle_autossl(a)
        if not a.secured:
            return []
        certificate = {
            "domains": list(a.secured),
            "is_self_signed": 0,
            "issuer.organizationName": "Simulated AutoSSL CA",
            "not_after": int(time.time()) + 90 * 86400,
        }
        return [{"servername": a.domain, "certificate": certificate}]

    def u_SSL_get_autossl_excluded_domains(self, a: Account, p: dict[str, str]) -> Any:
        return [{"excluded_domain": d} for d in a.autossl_excluded]

    def u_SSL_add_autossl_excluded_domains(self, a: Account, p: dict[str, str]) -> Any:
        for domain in filter(None, (d.strip() for d in p.get("domains", "").split(","))):
            if domain != a.domain and not domain.endswith(f".{a.domain}"):
                raise UapiErrors([f"The domain “{domain}” does not belong to the account."])
            if domain not in a.autossl_excluded:
                a.autossl_excluded.append(domain)
            a.secured = [h for h in a.secured if h not in (domain, f"www.{domain}")]
        return None

    def u_SSL_remove_autossl_excluded_domains(self, a: Account, p: dict[str, str]) -> Any:
        remove = {d.strip() for d in p.get("domains", "").split(",")}
        a.autossl_excluded = [d for d in a.autossl_excluded if d not in remove]
        return None

    def u_ModSecurity_list_domains(self, a: Account, p: dict[str, str]) -> Any:
        return [{"domain": a.domain, "enabled": int(a.modsecurity), "type": "main_domain"}]

    def u_ModSecurity_enable_all_domains(self, a: Account, p: dict[str, str]) -> Any:
        a.modsecurity = True
        return {"domains": [{"domain": a.domain, "enabled": 1}]}

    def u_ModSecurity_disable_all_domains(self, a: Account, p: dict[str, str]) -> Any:
        a.modsecurity = False
        return {"domains": [{"domain": a.domain, "enabled": 0}]}


WHM_FUNCTIONS = frozenset(
    {
        "createacct", "accountsummary", "listaccts", "suspendacct", "unsuspendacct", "removeacct",
        "changepackage", "passwd", "create_user_session", "listpkgs", "getpkginfo", "modifyacct",
        "listips", "setsiteip", "toggle_user_backup_state",
    }
)  # fmt: skip
"""The WHM API 1 functions the simulator speaks (plus ``uapi_cpanel``)."""

READ_ONLY = frozenset({"accountsummary", "listaccts", "listpkgs", "getpkginfo", "listips"})
