"""Starting the mail server, the push service and the notify service for tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hospeda.contracts import Actor, ActorKind, Envelope, Payload, Topic, decode, new_id
from hospeda.contracts.identity import (
    CompanyRole,
    MembershipGranted,
    StaffRoleChanged,
    UserRegistered,
)
from hospeda.contracts.notify import Channel, Recipient, SendNotification
from hospeda.contracts.topics import IDENTITY_USER
from hospeda.devstack.servers import free_port, wait_for_port
from hospeda.notify.app import Notify, create_app
from hospeda.notify.config import NotifySettings
from hospeda.runtime.broker import publish
from hospeda.runtime.rpc import QueryClient
from hospeda.runtime.service import ServiceRuntime

GATEWAY = Actor.system("gateway")


@dataclass
class MailServer:
    smtp_port: int
    http_url: str

    def messages(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.http_url}/messages").json()

    def fail_next(self, count: int, code: int = 451) -> None:
        httpx.post(
            f"{self.http_url}/control", json={"fail_next": count, "code": code}
        ).raise_for_status()

    def stop_accepting(self) -> None:
        """Every delivery fails for a while (as if the server were down)."""
        self.fail_next(10_000, code=421)

    def accept_again(self) -> None:
        self.fail_next(0)


@dataclass
class PushServer:
    """The local push service: subscribe like a browser, read what arrived."""

    url: str

    def subscribe(self, application_server_key: str) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/subscriptions", json={"application_server_key": application_server_key}
        )
        response.raise_for_status()
        return response.json()

    def unsubscribe(self, subscription_id: str) -> None:
        httpx.delete(f"{self.url}/subscriptions/{subscription_id}").raise_for_status()

    def messages(self, subscription_id: str | None = None) -> list[dict[str, Any]]:
        params = {"subscription": subscription_id} if subscription_id else {}
        return httpx.get(f"{self.url}/messages", params=params).json()

    def fail_next(self, count: int, status: int = 500) -> None:
        httpx.post(
            f"{self.url}/control", json={"fail_next": count, "status": status}
        ).raise_for_status()


def _serve(command: list[str], *ports: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", *command])
    for port in ports:
        wait_for_port("127.0.0.1", port, timeout=20, process=process)
    return process


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[MailServer]:
    smtp_port, http_port = free_port(), free_port()
    process = _serve(
        [
            "hospeda.notify.simulator",
            "--smtp-port",
            str(smtp_port),
            "--http-port",
            str(http_port),
            "--maildir",
            str(tmp_path / "mail"),
        ],
        http_port,
        smtp_port,
    )
    try:
        yield MailServer(smtp_port, f"http://127.0.0.1:{http_port}")
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def push_server() -> Iterator[PushServer]:
    port = free_port()
    process = _serve(["hospeda.notify.simulator.pushserver", "--port", str(port)], port)
    try:
        yield PushServer(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(10)


def notify_settings(
    database_url: str, kafka_bootstrap: str, mail: MailServer, **extra: Any
) -> NotifySettings:
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "HOSPEDA_ENV": "test",
        "HOSPEDA_LOG_JSON": False,
        "HOSPEDA_KAFKA_SESSION_TIMEOUT_MS": 2000,
        "smtp_port": mail.smtp_port,
        "retry_base_delay_s": 0.2,
        "retry_max_attempts": 3,
    }
    return NotifySettings(**{**values, **extra})


def notify_runtime(database_url: str, kafka_bootstrap: str, mail: MailServer) -> ServiceRuntime:
    return create_app(notify_settings(database_url, kafka_bootstrap, mail)).runtime


@pytest.fixture
async def notify_app(
    database_url: str, kafka_bootstrap: str, mail_server: MailServer
) -> AsyncIterator[Notify]:
    app = create_app(notify_settings(database_url, kafka_bootstrap, mail_server))
    await app.runtime.start()
    yield app
    await app.runtime.stop()


class Sender:
    """Publishes messages to the broker as the gateway (or anyone) would."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer

    async def __call__(
        self,
        payload: Payload,
        topic: Topic,
        key: Any,
        company_id: UUID | None = None,
        actor: Actor = GATEWAY,
    ) -> Envelope[Any]:
        envelope = Envelope.of(payload, actor=actor, company_id=company_id)
        await publish(self.producer, envelope, topic=topic, key=key)
        return envelope


@pytest.fixture
async def send(kafka_bootstrap: str) -> AsyncIterator[Sender]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    yield Sender(producer)
    await producer.stop()


class Watcher:
    """Everything published on some topics since the watcher started."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.seen: list[Envelope[Any]] = []

    async def drain(self) -> list[Envelope[Any]]:
        for records in (await self.consumer.getmany(timeout_ms=100)).values():
            self.seen.extend(decode(r.value) for r in records)
        return self.seen

    async def of_type(self, message_type: str) -> list[Envelope[Any]]:
        return [e for e in await self.drain() if e.type == message_type]

    async def until(self, message_type: str, count: int = 1) -> list[Envelope[Any]]:
        """The messages of a type, once at least ``count`` have been published."""
        for _ in range(150):
            found = await self.of_type(message_type)
            if len(found) >= count:
                return found
        raise AssertionError(f"fewer than {count} {message_type} published")


@pytest.fixture
async def watch(kafka_bootstrap: str) -> AsyncIterator[Any]:
    """``await watch(topic, …)``: a watcher of those topics (stopped after the test)."""
    consumers: list[AIOKafkaConsumer] = []

    async def watching(*topics: Topic) -> Watcher:
        consumer = AIOKafkaConsumer(
            *(t.name for t in topics),
            bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        consumers.append(consumer)
        return Watcher(consumer)

    yield watching
    for consumer in consumers:
        await consumer.stop()


@dataclass(frozen=True)
class Someone:
    user_id: UUID
    email: str
    name: str

    @property
    def actor(self) -> Actor:
        return Actor(kind=ActorKind.USER, id=str(self.user_id))


async def person(
    send: Sender,
    name: str,
    *,
    company: UUID | None = None,
    role: CompanyRole | None = None,
    staff: str | None = None,
    locale: str = "pt-BR",
) -> Someone:
    """A person notify knows: registered, maybe a member of ``company``, maybe staff."""
    user_id = new_id()
    email = f"{name.split()[0].lower()}.{user_id.hex[:6]}@exemplo.com.br"
    await send(
        UserRegistered(user_id=user_id, email=email, name=name, locale=locale),
        IDENTITY_USER,
        user_id,
    )
    if company is not None and role is not None:
        await send(
            MembershipGranted(user_id=user_id, company_id=company, role=role),
            IDENTITY_USER,
            user_id,
        )
    if staff is not None:
        await send(StaffRoleChanged(user_id=user_id, role=staff), IDENTITY_USER, user_id)
    return Someone(user_id, email, name)


def notification(
    template: str, recipient: Recipient | None = None, **data: Any
) -> SendNotification:
    return SendNotification(
        notification_id=new_id(),
        channel=Channel.EMAIL,
        template=template,
        recipient=recipient or Recipient(),
        data=data,
    )


def mails_to(mail: MailServer, someone: Someone) -> list[dict[str, Any]]:
    return [m for m in mail.messages() if someone.email in (m["envelope_to"] or "")]


@pytest.fixture
async def ask(kafka_bootstrap: str) -> AsyncIterator[Any]:
    """Ask notify a query as someone (request/reply over the broker, like the gateway)."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    client = QueryClient(
        bootstrap_servers=kafka_bootstrap,
        producer=producer,
        instance_id=f"test-{new_id().hex[:8]}",
        timeout=10,
    )
    await client.start()

    async def asking(
        name: str, params: dict[str, Any], *, actor: Actor, company_id: UUID | None = None
    ) -> Any:
        return await client.ask("notify", name, params, actor=actor, company_id=company_id)

    yield asking
    await client.stop()
    await producer.stop()
