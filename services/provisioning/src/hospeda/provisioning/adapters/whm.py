"""WHM API 1 and UAPI (through WHM's ``uapi_cpanel``) over httpx.

Every call is a POST to ``<server>/json-api/<function>`` with ``api.version=1``
and ``Authorization: whm <user>:<token>``; parameters travel in the body, so
passwords never appear in a URL, a log line or a trace. WHM answers HTTP 200
even when it refused: the outcome is ``metadata.result`` (and, for UAPI,
``data.uapi.status``), which is checked on every call.

Errors: ``WhmUnavailable`` (and ``WhmTimeout``) are worth retrying;
``WhmRefused`` and ``WhmAuthFailed`` are ``PermanentError`` — retrying the same
request would get the same answer — except refusals whose reason says the
server is momentarily busy (``WhmBusy``, retried).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from hospeda.runtime import metrics
from hospeda.runtime.errors import PermanentError

log = logging.getLogger(__name__)

_TRANSIENT_REASONS = (
    "lock",
    "busy",
    "try again",
    "temporar",
    "timed out",
    "timeout",
    "in progress",
)


class WhmUnavailable(Exception):
    """The server did not give a usable answer (network, 5xx, not JSON): retry."""


class WhmTimeout(WhmUnavailable):
    """No answer in time. The call may still have taken effect: check before redoing."""


class WhmBusy(Exception):
    """WHM refused because it is momentarily busy (a lock, a task in progress): retry."""


class WhmRefused(PermanentError):
    """WHM (or the cPanel function it ran) refused the request; the reason says why."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class WhmAuthFailed(PermanentError):
    """The server refused our credentials: an operator must fix the token."""


@dataclass(frozen=True)
class Account:
    """A cPanel account as ``listaccts`` / ``accountsummary`` describe it."""

    user: str
    domain: str
    ip: str
    plan: str
    suspended: bool
    backup: bool
    maxpop: str

    @classmethod
    def of(cls, row: dict[str, Any]) -> Account:
        return cls(
            user=str(row["user"]),
            domain=str(row["domain"]),
            ip=str(row.get("ip", "")),
            plan=str(row.get("plan", "")),
            suspended=bool(int(row.get("suspended", 0) or 0)),
            backup=bool(int(row.get("backup", 0) or 0)),
            maxpop=str(row.get("maxpop", "")),
        )


class WhmClient:
    """One WHM server's API."""

    def __init__(
        self,
        *,
        server: str,
        url: str,
        user: str,
        token: SecretStr,
        timeout: float = 30.0,
        create_timeout: float = 300.0,
        verify_tls: bool = True,
        max_connections: int = 20,
    ) -> None:
        self.server = server
        self.base_url = url.rstrip("/")
        metrics.name_provider("whm", self.base_url)
        self.timeout = timeout
        self.create_timeout = create_timeout
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"whm {user}:{token.get_secret_value()}"},
            timeout=timeout,
            verify=verify_tls,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- the two ways in -------------------------------------------------------------

    async def call(
        self, function: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """Run WHM API 1 ``function``; returns its ``data`` (None when it has none)."""
        body = {"api.version": "1", **{k: _text(v) for k, v in (params or {}).items()}}
        started = time.monotonic()
        try:
            response = await self._http.post(
                f"/json-api/{function}", data=body, timeout=timeout or self.timeout
            )
        except httpx.TimeoutException:
            raise WhmTimeout(
                f"o servidor WHM {self.server} não respondeu a {function} a tempo "
                f"/ WHM server {self.server} did not answer {function} in time"
            ) from None
        except httpx.TransportError as exc:
            raise WhmUnavailable(
                f"servidor WHM {self.server} inacessível / WHM server {self.server} unreachable "
                f"({function}): {type(exc).__name__}"
            ) from None
        log.debug(
            "whm %s %s: HTTP %s in %.0f ms",
            self.server,
            function,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        if response.status_code in (401, 403):
            raise WhmAuthFailed(
                f"o servidor WHM {self.server} recusou as credenciais (HTTP {response.status_code}); "
                f"corrija o token / WHM server {self.server} refused our credentials; fix the API token"
            )
        if response.status_code != 200:
            raise WhmUnavailable(
                f"servidor WHM {self.server} respondeu HTTP {response.status_code} a {function} "
                f"/ WHM server {self.server} answered HTTP {response.status_code} to {function}"
            )
        try:
            document = response.json()
            metadata = document["metadata"]
        except (ValueError, KeyError, TypeError):
            raise WhmUnavailable(
                f"resposta ilegível do WHM {self.server} a {function} "
                f"/ unreadable answer from WHM {self.server} to {function}"
            ) from None
        if str(metadata.get("result")) != "1":
            reason = str(metadata.get("reason") or "sem motivo / no reason given")
            self._refuse(function, reason)
        return document.get("data")

    async def uapi(
        self, user: str, module: str, function: str, params: dict[str, Any] | None = None
    ) -> Any:
        """Run UAPI ``module::function`` as cPanel ``user``; returns its ``data``."""
        data = await self.call(
            "uapi_cpanel",
            {
                "cpanel.user": user,
                "cpanel.module": module,
                "cpanel.function": function,
                **(params or {}),
            },
        )
        try:
            result = data["uapi"]
        except (KeyError, TypeError):
            raise WhmUnavailable(
                f"resposta UAPI ilegível de {self.server} / unreadable UAPI answer from {self.server} "
                f"({module}::{function})"
            ) from None
        if str(result.get("status")) != "1":
            errors = result.get("errors") or ["sem motivo / no reason given"]
            self._refuse(f"{module}::{function}", "; ".join(str(e) for e in errors))
        return result.get("data")

    def _refuse(self, function: str, reason: str) -> None:
        message = f"WHM {self.server} recusou / refused {function}: {reason}"
        if any(marker in reason.lower() for marker in _TRANSIENT_REASONS):
            raise WhmBusy(message)
        raise WhmRefused(message, reason=reason)

    # --- accounts (WHM API 1) ---------------------------------------------------------

    async def find_account(
        self, *, user: str | None = None, domain: str | None = None
    ) -> Account | None:
        """The account with exactly this username or main domain, if any."""
        searchtype, search = ("user", user) if user else ("domain", domain)
        data = await self.call(
            "listaccts",
            {"search": search, "searchtype": searchtype, "searchmethod": "exact", "want": "all"},
        )
        rows = (data or {}).get("acct") or []
        return Account.of(rows[0]) if rows else None

    async def usernames_starting_with(self, prefix: str) -> list[str]:
        data = await self.call(
            "listaccts",
            {"search": f"^{prefix}", "searchtype": "user", "searchmethod": "regex", "want": "user"},
        )
        return [str(row["user"]) for row in (data or {}).get("acct") or []]

    async def account_summary(self, user: str) -> Account:
        data = await self.call("accountsummary", {"user": user})
        return Account.of(data["acct"][0])

    async def create_account(
        self, *, username: str, domain: str, package: str, contact_email: str, password: str
    ) -> dict[str, Any]:
        """``createacct``; may take minutes on a busy server, so it gets the long timeout."""
        data = await self.call(
            "createacct",
            {
                "username": username,
                "domain": domain,
                "plan": package,
                "contactemail": contact_email,
                "password": password,
                "ip": "n",
            },
            timeout=self.create_timeout,
        )
        return dict(data or {})

    async def suspend(self, user: str, reason: str) -> None:
        await self.call("suspendacct", {"user": user, "reason": reason})

    async def unsuspend(self, user: str) -> None:
        await self.call("unsuspendacct", {"user": user})

    async def remove(self, user: str) -> None:
        await self.call("removeacct", {"username": user}, timeout=self.create_timeout)

    async def change_package(self, user: str, package: str) -> None:
        await self.call("changepackage", {"user": user, "pkg": package})

    async def set_password(self, user: str, password: str) -> None:
        await self.call("passwd", {"user": user, "password": password, "db_pass_update": 0})

    async def create_session(self, user: str, *, app: str | None = None) -> tuple[str, int]:
        """A single-use cPanel login URL for ``user`` (opening ``app``, e.g.
        ``Password_Change``) and when it expires (epoch seconds)."""
        params = {"user": user, "service": "cpaneld", **({"app": app} if app else {})}
        data = await self.call("create_user_session", params)
        return str(data["url"]), int(data["expires"])

    async def packages(self) -> list[str]:
        data = await self.call("listpkgs")
        return [str(pkg["name"]) for pkg in (data or {}).get("pkg") or []]

    async def package_info(self, package: str) -> dict[str, Any]:
        data = await self.call("getpkginfo", {"pkg": package})
        return dict((data or {}).get("pkg") or {})

    async def modify_account(self, user: str, **fields: Any) -> None:
        await self.call("modifyacct", {"user": user, **fields})

    async def ips(self) -> list[dict[str, Any]]:
        data = await self.call("listips")
        return list((data or {}).get("ip") or [])

    async def set_site_ip(self, user: str, ip: str) -> None:
        await self.call("setsiteip", {"user": user, "ip": ip})

    async def toggle_backup(self, user: str) -> bool:
        """Flip per-account backups; returns whether they are now on."""
        data = await self.call("toggle_user_backup_state", {"user": user})
        return bool(int(data["toggle_status"]))

    # --- inside the account (UAPI) ---------------------------------------------------------

    async def databases(self, user: str) -> list[str]:
        rows = await self.uapi(user, "Mysql", "list_databases")
        return [str(row["database"]) for row in rows or []]

    async def create_database(self, user: str, name: str) -> None:
        await self.uapi(user, "Mysql", "create_database", {"name": name})

    async def database_users(self, user: str) -> list[str]:
        rows = await self.uapi(user, "Mysql", "list_users")
        return [str(row["user"]) for row in rows or []]

    async def create_database_user(self, user: str, name: str, password: str) -> None:
        await self.uapi(user, "Mysql", "create_user", {"name": name, "password": password})

    async def database_privileges(self, user: str, db_user: str, database: str) -> list[str]:
        rows = await self.uapi(
            user, "Mysql", "get_privileges_on_database", {"user": db_user, "database": database}
        )
        return [str(p) for p in rows or []]

    async def grant_all(self, user: str, db_user: str, database: str) -> None:
        await self.uapi(
            user,
            "Mysql",
            "set_privileges_on_database",
            {"user": db_user, "database": database, "privileges": "ALL PRIVILEGES"},
        )

    async def mailboxes(self, user: str) -> list[str]:
        rows = await self.uapi(user, "Email", "list_pops")
        return [str(row["email"]) for row in rows or []]

    async def add_mailbox(
        self, user: str, *, local: str, domain: str, password: str, quota_mb: int
    ) -> None:
        await self.uapi(
            user,
            "Email",
            "add_pop",
            {"email": local, "domain": domain, "password": password, "quota": quota_mb},
        )

    async def start_autossl(self, user: str) -> None:
        await self.uapi(user, "SSL", "start_autossl_check")

    async def autossl_in_progress(self, user: str) -> bool:
        return bool(int(await self.uapi(user, "SSL", "is_autossl_check_in_progress") or 0))

    async def autossl_problems(self, user: str) -> list[dict[str, Any]]:
        return list(await self.uapi(user, "SSL", "get_autossl_problems") or [])

    async def secured_hosts(self, user: str) -> set[str]:
        """Host names covered by an installed, CA-signed certificate."""
        hosts: set[str] = set()
        for row in await self.uapi(user, "SSL", "installed_hosts") or []:
            certificate = row.get("certificate") or {}
            if int(certificate.get("is_self_signed", 0) or 0):
                continue
            hosts.update(str(d) for d in certificate.get("domains") or [])
        return hosts

    async def autossl_excluded(self, user: str) -> set[str]:
        rows = await self.uapi(user, "SSL", "get_autossl_excluded_domains")
        return {str(row["excluded_domain"]) for row in rows or []}

    async def exclude_from_autossl(self, user: str, domain: str) -> None:
        await self.uapi(user, "SSL", "add_autossl_excluded_domains", {"domains": domain})

    async def include_in_autossl(self, user: str, domain: str) -> None:
        await self.uapi(user, "SSL", "remove_autossl_excluded_domains", {"domains": domain})

    async def modsecurity(self, user: str) -> dict[str, bool]:
        rows = await self.uapi(user, "ModSecurity", "list_domains")
        return {str(row["domain"]): bool(int(row["enabled"])) for row in rows or []}

    async def set_modsecurity(self, user: str, *, enabled: bool) -> None:
        await self.uapi(
            user, "ModSecurity", "enable_all_domains" if enabled else "disable_all_domains"
        )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
