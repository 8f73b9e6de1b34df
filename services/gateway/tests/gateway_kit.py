"""Test kit for the gateway: the real app served over real HTTP, real Redis, the
real broker and database, and helpers that walk the flows a person walks.

- ``GatewayServer``: uvicorn on a free port in its own thread and event loop
  (so synchronous clients such as schemathesis can call it as well).
- ``Peers``: the query side of billing, provisioning, dns and audit as the
  gateway sees it over Kafka — answering by docs/CONVENTIONS.md (tenant from
  the envelope, another company's id is ``not_found``, ``{items,
  next_cursor}`` lists). Those services are built in other branches; this
  stand-in lets the gateway's side (RBAC, IDOR answers, 202/503) be tested
  through the real broker. It records every query it was asked.
- ``Browser``: an HTTP client that keeps the gateway's cookies (they are
  ``Secure``; over plain HTTP to 127.0.0.1 httpx would not send them) and
  echoes the CSRF token, like the web app.
- ``Harness`` (fixture ``harness``): sign up, confirm, sign in (with 2FA),
  invite, make staff, act on a company.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlparse
from uuid import UUID, uuid4

import httpx
import pyotp
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from hospeda.contracts import Actor, ActorKind, Envelope, UnreadableMessage, decode
from hospeda.contracts.identity import CompanyRegistered, CompanyRole
from hospeda.contracts.notify import SendNotification
from hospeda.contracts.queries import Query, QueryError, QueryReply
from hospeda.contracts.topics import NOTIFY_COMMANDS, QUERY_TOPICS
from hospeda.devstack.servers import free_port
from hospeda.gateway.app import create_app, uvicorn_options
from hospeda.gateway.config import GatewaySettings
from hospeda.gateway.deps import Collaborators
from hospeda.gateway.outgoing import Origin
from hospeda.gateway.permissions import StaffRole
from hospeda.runtime.broker import ensure_topics, publish

T = TypeVar("T")

PASSWORD = "uma-senha-bem-comprida-42"
SESSION_COOKIE = "__Host-hospeda_session"
CSRF_COOKIE = "__Host-hospeda_csrf"
CUSTOMER_ROLES = tuple(CompanyRole)
STAFF_ROLES = tuple(StaffRole)
_counter = itertools.count(1)


def unique_email(prefix: str = "pessoa") -> str:
    return f"{prefix}-{next(_counter)}-{uuid4().hex[:6]}@exemplo.com.br"


def gateway_settings(
    database_url: str, kafka_bootstrap: str, redis_url: str, **extra: Any
) -> GatewaySettings:
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "HOSPEDA_ENV": "test",
        "HOSPEDA_LOG_JSON": False,
        "HOSPEDA_LOG_LEVEL": "WARNING",
        "HOSPEDA_KAFKA_SESSION_TIMEOUT_MS": 2000,
        "HOSPEDA_TOPIC_PARTITIONS": 1,
        "HOSPEDA_QUERY_TIMEOUT_S": 2.0,
        "HOSPEDA_INSTANCE_ID": f"test-{uuid4().hex[:8]}",
        # cheap argon2 for tests; production settings refuse these
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "argon2_parallelism": 1,
        "events_heartbeat_s": 1.0,
        # every test client is 127.0.0.1: only the rate-limit tests keep the real limit
        "email_requests_per_window": 1000,
    }
    values.update(extra)
    return GatewaySettings(**values)


# --- the server ----------------------------------------------------------------------------


class GatewayServer:
    """The gateway app on a free port, in its own thread and event loop."""

    def __init__(
        self, settings: GatewaySettings, peers: Peers | None = None, *, port: int | None = None
    ) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.peers = peers
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                host="127.0.0.1",
                port=self.port,
                loop="asyncio",
                access_log=False,
                **uvicorn_options(settings),
            )
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="gateway-server", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            if self.peers is not None:
                await self.peers.start()
            try:
                await self._server.serve()
            finally:
                if self.peers is not None:
                    await self.peers.stop()

        try:
            asyncio.run(main())
        except BaseException as exc:
            self._error = exc

    async def start(self, timeout: float = 60) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not start: {self._error!r}")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self._server.should_exit = True
        await asyncio.to_thread(self._thread.join, 30)

    @property
    def gateway(self) -> Collaborators:
        """What the running app was built with (``deps.Collaborators``)."""
        gateway: Collaborators = self.app.state.collaborators
        return gateway

    async def call(self, work: Callable[[Collaborators], Awaitable[T]]) -> T:
        """Run ``work`` in the server's event loop (where its clients live)."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(_call(work, self.gateway), self._loop)
        return await asyncio.wrap_future(future)

    async def events_ready(self, timeout: float = 30) -> None:
        """Wait until the live-event consumer has its partitions (it reads from the newest)."""
        await self.call(lambda gateway: asyncio.wait_for(gateway.events.ready.wait(), timeout))


async def _call(work: Callable[[Collaborators], Awaitable[T]], gateway: Collaborators) -> T:
    return await work(gateway)


# --- the other services' query side ----------------------------------------------------------

# query name -> (collection, id parameter of `.get`)
PEER_QUERIES: dict[tuple[str, str], tuple[str, str | None]] = {
    ("billing", "catalog.list"): ("catalog", None),
    ("billing", "invoices.list"): ("invoices", None),
    ("billing", "invoices.get"): ("invoices", "invoice_id"),
    ("billing", "subscriptions.list"): ("subscriptions", None),
    ("billing", "subscriptions.get"): ("subscriptions", "subscription_id"),
    ("billing", "orders.get"): ("orders", "order_id"),
    ("provisioning", "services.list"): ("services", None),
    ("provisioning", "services.get"): ("services", "service_id"),
    ("provisioning", "jobs.list"): ("jobs", None),
    ("provisioning", "jobs.get"): ("jobs", "job_id"),
    ("dns", "zones.list"): ("zones", None),
    ("dns", "zones.get"): ("zones", "domain"),
    ("audit", "entries.list"): ("entries", None),
    ("notify", "probe.get"): ("probes", "probe_id"),
}


PERSONAL_ANSWERS: dict[tuple[str, str], dict[str, Any]] = {
    ("notify", "inbox.list"): {"items": [], "next_cursor": None, "unread": 0},
    ("notify", "notification_settings.get"): {"preferences": [], "time_zone": "America/Sao_Paulo"},
    ("notify", "push.config"): {"vapid_public_key": "BExemplo"},
    ("notify", "push_subscriptions.list"): {"items": [], "next_cursor": None},
    ("notify", "unsubscribe.check"): {"category": "marketing"},
    ("notify", "templates.list"): {"items": [], "next_cursor": None},
    ("notify", "templates.preview"): {"template": "invoice-issued"},
}
"""notify's answers about a person (their inbox, settings, devices) and for staff
(templates): the same for everyone here; notify's own tests check who sees what."""


class Peers:
    """Stand-in for the query side of the services the gateway forwards to (see
    the module docstring)."""

    services = ("billing", "provisioning", "dns", "audit", "notify")

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.items: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.asked: list[Envelope[Any]] = []
        self.silent: set[str] = set()  # services that do not answer (down)
        self.errors: dict[str, tuple[str, str]] = {}  # query name -> (code, message) to answer
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    def add(self, collection: str, company_id: UUID | None, **item: Any) -> dict[str, Any]:
        """An item of ``collection`` owned by ``company_id`` (None: everyone's, like the catalog)."""
        row = {"company_id": str(company_id) if company_id else None, **item}
        self.items[collection].append(row)
        return row

    async def start(self) -> None:
        await ensure_topics(self.bootstrap, partitions=1, replication=1)
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=1)
        await self._producer.start()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10
        )
        await consumer.start()
        partitions = [TopicPartition(QUERY_TOPICS[s].name, 0) for s in self.services]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for partition in partitions:
            await consumer.position(partition)
        self._consumer = consumer
        self._task = asyncio.create_task(self._serve())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def _serve(self) -> None:
        assert self._consumer is not None and self._producer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    reply_to = dict(record.headers or ()).get("reply-to")
                    try:
                        query = decode(record.value)
                    except UnreadableMessage:
                        continue
                    service = record.topic.split(".")[0]
                    self.asked.append(query)
                    if service in self.silent or reply_to is None:
                        continue
                    try:
                        answer = self.answer(service, query)
                    except Exception:  # like the runtime: a bug answers "internal", never silence
                        answer = _error("internal", "internal error")
                    reply = Envelope.of(answer, actor=Actor.system(service), cause=query)
                    await publish(self._producer, reply, topic=reply_to.decode(), key=None)

    def answer(self, service: str, query: Envelope[Any]) -> QueryReply:
        payload: Query = query.payload
        if payload.name in self.errors:
            return _error(*self.errors[payload.name])
        canned = PERSONAL_ANSWERS.get((service, payload.name))
        if canned is not None:  # about the asking person, whatever company: a fixed answer
            return QueryReply(ok=True, data=canned)
        known = PEER_QUERIES.get((service, payload.name))
        if known is None:
            return _error("unknown_query", f"unknown query {payload.name!r}")
        collection, id_param = known
        platform_wide = query.company_id is None and query.actor.kind in (
            ActorKind.STAFF,
            ActorKind.SYSTEM,
        )
        if query.company_id is None and not platform_wide:
            return _error("forbidden", "sem empresa / no company")
        visible = [
            item
            for item in self.items[collection]
            if platform_wide or item["company_id"] in (None, str(query.company_id))
        ]
        if id_param is None:
            limit = int(payload.params.get("limit", 20))
            cursor = str(payload.params.get("cursor") or "0")
            if not cursor.isdigit():
                return _error("invalid", "cursor inválido / invalid cursor")
            start = int(cursor)
            chunk = visible[start : start + limit]
            more = start + limit < len(visible)
            return QueryReply(
                ok=True,
                data={"items": chunk, "next_cursor": str(start + limit) if more else None},
            )
        wanted = str(payload.params.get(id_param))
        for item in visible:
            if str(item.get(id_param)) == wanted:
                return QueryReply(ok=True, data=item)
        return _error("not_found", "não encontrado / not found")


def _error(code: str, message: str) -> QueryReply:
    return QueryReply(ok=False, error=QueryError(code=code, message=message))


# --- reading topics ----------------------------------------------------------------------


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[Envelope[Any]]], bool],
    timeout: float = 20,
    what: str = "messages",
) -> list[Envelope[Any]]:
    """Every message on ``topic`` from its beginning, until ``until(messages)``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        messages: list[Envelope[Any]] = []
        deadline = time.monotonic() + timeout
        while not until(messages):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:.0f}s waiting for {what} on {topic}"
                )
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    with contextlib.suppress(UnreadableMessage):
                        messages.append(decode(record.value))
        return messages
    finally:
        await consumer.stop()


async def read_all(bootstrap: str, *topics: str) -> dict[str, list[Envelope[Any]]]:
    """Every message on each of ``topics`` right now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, 0) for topic in topics]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        messages: dict[str, list[Envelope[Any]]] = {topic: [] for topic in topics}
        while any([await consumer.position(p) < ends[p] for p in partitions]):
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    with contextlib.suppress(UnreadableMessage):
                        messages[record.topic].append(decode(record.value))
        return messages
    finally:
        await consumer.stop()


async def find_message(
    bootstrap: str, topic: str, match: Callable[[Envelope[Any]], bool], *, what: str = "a message"
) -> Envelope[Any]:
    messages = await read_topic(
        bootstrap, topic, until=lambda seen: any(match(m) for m in seen), what=what
    )
    return next(m for m in messages if match(m))


async def emailed(bootstrap: str, *, template: str, email: str) -> SendNotification:
    """The newest ``template`` e-mail requested for ``email``."""

    def to(message: Envelope[Any]) -> bool:
        payload = message.payload
        return (
            isinstance(payload, SendNotification)
            and payload.template == template
            and payload.recipient.email == email
        )

    messages = await read_topic(
        bootstrap,
        NOTIFY_COMMANDS.name,
        until=lambda seen: any(to(m) for m in seen),
        what=f"a {template} e-mail to {email}",
    )
    payload: SendNotification = [m for m in messages if to(m)][-1].payload
    return payload


async def emailed_token(bootstrap: str, *, template: str, email: str) -> str:
    """The single-use token in the newest ``template`` e-mail to ``email``."""
    return link_token(await emailed(bootstrap, template=template, email=email))


def link_token(mail: SendNotification) -> str:
    return parse_qs(urlparse(str(mail.data["link"])).query)["token"][0]


async def company_registered_by(bootstrap: str, owner: UUID) -> UUID:
    """The company whose sign-up ``owner`` made (from identity.company.v1)."""
    found = await find_message(
        bootstrap,
        "identity.company.v1",
        lambda m: isinstance(m.payload, CompanyRegistered) and m.payload.owner_user_id == owner,
        what=f"the company {owner} signed up",
    )
    company: UUID = found.payload.company_id
    return company


# --- a browser ---------------------------------------------------------------------------


class Browser:
    """An HTTP client that keeps cookies and echoes the CSRF token, like the web app."""

    def __init__(
        self, base_url: str, *, token: str | None = None, accept_language: str = "pt-BR"
    ) -> None:
        headers = {"User-Agent": "pytest-browser/1.0", "Accept-Language": accept_language}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.client = httpx.AsyncClient(base_url=base_url, timeout=20, headers=headers)
        self.cookies: dict[str, str] = {}
        self.last_set_cookies: list[str] = []

    @property
    def csrf(self) -> str | None:
        return self.cookies.get(CSRF_COOKIE)

    @property
    def session_id(self) -> str | None:
        return self.cookies.get(SESSION_COOKIE)

    async def request(
        self,
        method: str,
        url: str,
        *,
        csrf: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if csrf and method.upper() not in ("GET", "HEAD", "OPTIONS") and self.csrf:
            sent.setdefault("X-CSRF-Token", self.csrf)
        response = await self.client.request(method, url, headers=sent, **kwargs)
        self.client.cookies.clear()  # ours are kept above
        self.last_set_cookies = response.headers.get_list("set-cookie")
        for raw in self.last_set_cookies:
            for name, morsel in SimpleCookie(raw).items():
                if morsel["max-age"] == "0" or not morsel.value.strip('"'):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    async def open_stream(self, url: str) -> httpx.Response:
        """Open a streaming answer (Server-Sent Events), keep the status and headers, close it."""
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        async with self.client.stream(
            "GET", url, headers=headers if self.cookies else {}
        ) as response:
            if response.status_code != 200:
                await response.aread()
            return response

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kwargs)

    async def aclose(self) -> None:
        await self.client.aclose()


class EventStream:
    """A browser's open ``/api/v1/events`` stream, read in the background."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.events: list[dict[str, Any]] = []
        self.status: int | None = None
        self.opened = asyncio.Event()
        self.ended = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.browser.cookies.items())}
        try:
            async with self.browser.client.stream(
                "GET", "/api/v1/events", headers=headers, timeout=None
            ) as response:
                self.status = response.status_code
                event: dict[str, Any] = {}
                async for line in response.aiter_lines():
                    if line.startswith(":"):
                        self.opened.set()
                    elif line.startswith(("event:", "id:", "data:")):
                        name, _, value = line.partition(":")
                        event[name] = json.loads(value) if name == "data" else value.strip()
                    elif not line and event:
                        self.events.append(event)
                        event = {}
        finally:
            self.opened.set()
            self.ended.set()

    async def wait_for(self, match: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for event in self.events:
                if match(event):
                    return event
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {what} on the stream; got {self.events}")

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await self._task


class Totp:
    """An authenticator app: a fresh code each time (the gateway accepts a code
    once, within ±1 step of 30 s)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.last_step = -1

    def code(self) -> str:
        now = int(time.time()) // 30
        step = max(now, self.last_step + 1)
        if step > now + 1:
            raise RuntimeError("no fresh TOTP code in this 30 s window; use a recovery code")
        self.last_step = step
        return pyotp.TOTP(self.secret).at(step * 30)

    async def fresh_code(self) -> str:
        """A code never used yet, waiting for the next 30 s window when both the
        current and the next step are spent (a used code is refused: replay)."""
        while (self.last_step + 1) > int(time.time()) // 30 + 1:
            await asyncio.sleep(30 - time.time() % 30 + 0.05)
        return self.code()


@dataclass
class Person:
    email: str
    browser: Browser
    user_id: UUID
    company_id: UUID | None = None
    password: str = PASSWORD
    totp: Totp | None = None
    recovery_codes: list[str] = field(default_factory=list)


# --- the harness ---------------------------------------------------------------------------


def expect(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json() if response.content else {}


class Harness:
    """A running gateway and the flows people walk through it."""

    def __init__(
        self, server: GatewayServer, peers: Peers, bootstrap: str, database_url: str
    ) -> None:
        self.server = server
        self.peers = peers
        self.bootstrap = bootstrap
        self.database_url = database_url
        self._browsers: list[Browser] = []

    @property
    def url(self) -> str:
        return self.server.url

    async def session_ttl(self, session_id: str) -> int:
        """Seconds the session with this id has left in Redis (-2: gone)."""
        key = "hospeda:session:" + hashlib.sha256(session_id.encode()).hexdigest()
        return int(await self.server.call(lambda gateway: gateway.redis.ttl(key)))

    def browser(self, **kwargs: Any) -> Browser:
        browser = Browser(self.url, **kwargs)
        self._browsers.append(browser)
        return browser

    async def close(self) -> None:
        for browser in self._browsers:
            await browser.aclose()

    async def sign_up(
        self, *, company: str = "Padaria Pão Quente", email: str | None = None, login: bool = True
    ) -> Person:
        """A new company and its owner, e-mail confirmed through the link that was sent."""
        email = email or unique_email("dona")
        browser = self.browser()
        expect(
            await browser.post(
                "/api/v1/auth/signup",
                json={
                    "company_name": company,
                    "name": "Maria Souza",
                    "email": email,
                    "password": PASSWORD,
                },
            ),
            202,
        )
        verification = await emailed(self.bootstrap, template="verify-email", email=email)
        expect(
            await browser.post(
                "/api/v1/auth/verify-email", json={"token": link_token(verification)}
            ),
            200,
        )
        user_id = verification.recipient.user_id
        assert user_id is not None
        person = Person(
            email=email,
            browser=browser,
            user_id=user_id,
            company_id=await company_registered_by(self.bootstrap, user_id),
        )
        if login:
            await self.login(person)
        return person

    async def login(self, person: Person) -> dict[str, Any]:
        answer = expect(
            await person.browser.post(
                "/api/v1/auth/login", json={"email": person.email, "password": person.password}
            ),
            200,
        )
        if answer["mfa_required"]:
            assert person.totp is not None, "2FA is on but the test has no authenticator"
            answer = expect(
                await person.browser.post(
                    "/api/v1/auth/login/2fa", json={"code": await person.totp.fresh_code()}
                ),
                200,
            )
        return answer

    async def enable_2fa(self, person: Person) -> None:
        setup = expect(await person.browser.post("/api/v1/auth/2fa/setup"), 200)
        person.totp = Totp(setup["secret"])
        codes = expect(
            await person.browser.post("/api/v1/auth/2fa/enable", json={"code": person.totp.code()}),
            200,
        )
        person.recovery_codes = codes["recovery_codes"]

    async def invite(self, owner: Person, role: CompanyRole, *, email: str | None = None) -> Person:
        """``owner`` invites a new person with ``role``; they sign up from the link and sign in."""
        email = email or unique_email(role.value)
        expect(
            await owner.browser.post(
                "/api/v1/company/invitations", json={"email": email, "role": role.value}
            ),
            201,
        )
        token = await emailed_token(self.bootstrap, template="invitation", email=email)
        browser = self.browser()
        body = expect(
            await browser.post(
                "/api/v1/auth/signup/invited",
                json={"token": token, "name": f"Pessoa {role.value}", "password": PASSWORD},
            ),
            201,
        )
        person = Person(
            email=email,
            browser=browser,
            user_id=UUID(body["user_id"]),
            company_id=UUID(body["company_id"]),
        )
        await self.login(person)
        return person

    async def make_staff(self, person: Person, role: StaffRole) -> None:
        """Give ``person`` a staff role (what ``python -m hospeda.gateway.admin staff`` does)."""
        origin = Origin(actor=Actor.system("test"), company_id=None, ip=None, user_agent=None)
        await self.server.call(
            lambda gateway: gateway.staff.set_staff_role(origin, person.user_id, role)
        )

    async def staff(self, role: StaffRole) -> Person:
        """A staff member with 2FA on, signed in."""
        person = await self.sign_up(
            company=f"Equipe {role.value}", email=unique_email(f"staff-{role.value}")
        )
        await self.make_staff(person, role)
        await self.enable_2fa(person)
        return person

    async def act_on(self, staff: Person, company_id: UUID) -> None:
        expect(
            await staff.browser.post(
                "/api/v1/staff/acting",
                json={"company_id": str(company_id), "reason": "Chamado de suporte #1"},
            ),
            200,
        )


HarnessFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_harness(
    database_url: str, kafka_bootstrap: str, redis_url: str
) -> AsyncIterator[HarnessFactory]:
    """Start the gateway with settings overridden by keyword (e.g. ``login_max_failures_per_ip=3``)."""
    started: list[Harness] = []

    async def make(*, port: int | None = None, **settings: Any) -> Harness:
        peers = Peers(kafka_bootstrap)
        server = GatewayServer(
            gateway_settings(database_url, kafka_bootstrap, redis_url, **settings), peers, port=port
        )
        await server.start()
        kit = Harness(server, peers, kafka_bootstrap, database_url)
        started.append(kit)
        return kit

    yield make
    for kit in started:
        await kit.close()
        await kit.server.stop()


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> Harness:
    return await make_harness()
