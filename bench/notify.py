"""Notify figures: templates rendered per second (text, HTML and push from one
text), and notifications delivered end to end — commands over Kafka, a deliver
job each, then an e-mail to the local SMTP server and a web push (RFC 8291
encrypted, VAPID signed) to the local push service, each its own process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer

from bench.support import Report, Stopwatch, broker, fresh_database
from hospeda.contracts import Actor, Envelope, encode, new_id, utcnow
from hospeda.contracts.notify import Channel, Recipient, SendNotification
from hospeda.contracts.topics import NOTIFY_COMMANDS
from hospeda.devstack.servers import free_port, wait_for_port
from hospeda.notify.app import create_app
from hospeda.notify.config import NotifySettings
from hospeda.notify.models import Delivery, Membership, Person, PushSubscription
from hospeda.notify.templates import SAMPLES, render
from hospeda.notify.vapid import generate_vapid_key, vapid_public_key

RENDERS = 20_000
COMPANIES = 100
NOTIFICATIONS = 300  # each: one e-mail and one push (the owner has one device)


async def everything(report: Report, admin_url: str | None, tmp: Path) -> None:
    rendering(report)
    await delivering(report, admin_url, tmp)


def rendering(report: Report) -> None:
    names = sorted(SAMPLES)
    with Stopwatch() as watch:
        for i in range(RENDERS):
            name = names[i % len(names)]
            render(name, "pt-BR" if i % 2 else "en", dict(SAMPLES[name]))
    report.add(
        "notify",
        "templates rendered (text + HTML + push), one core",
        RENDERS / watch.seconds,
        "renders/s",
    )


def _serve(*command: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", *command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def delivering(report: Report, admin_url: str | None, tmp: Path) -> None:
    smtp_port, mail_http, push_port = free_port(), free_port(), free_port()
    mail = _serve(
        "hospeda.notify.simulator", "--smtp-port", str(smtp_port), "--http-port", str(mail_http),
        "--maildir", str(tmp / "bench-mail"),
    )  # fmt: skip
    push = _serve("hospeda.notify.simulator.pushserver", "--port", str(push_port))
    try:
        for port, process in ((mail_http, mail), (smtp_port, mail), (push_port, push)):
            await asyncio.to_thread(wait_for_port, "127.0.0.1", port, timeout=30, process=process)
        async with broker(tmp) as bootstrap, fresh_database(admin_url, tmp, "notify") as url:
            key = generate_vapid_key()
            settings = NotifySettings(
                DATABASE_URL=url,
                KAFKA_BOOTSTRAP_SERVERS=bootstrap,
                HOSPEDA_ENV="test",
                HOSPEDA_LOG_LEVEL="WARNING",
                HOSPEDA_LOG_JSON=False,
                HOSPEDA_KAFKA_SESSION_TIMEOUT_MS=2000,
                smtp_port=smtp_port,
                smtp_concurrency=20,
                push_concurrency=40,
                vapid_private_key=key,
            )
            app = create_app(settings)
            await app.runtime.start()
            try:
                companies = await _seed(app, f"http://127.0.0.1:{push_port}", vapid_public_key(key))
                figures = await _deliver(app, bootstrap, companies)
            finally:
                await app.runtime.stop()
        report.add(
            "notify",
            f"notifications delivered, {NOTIFICATIONS:,} × (inbox + e-mail + push)",
            figures["notifications_per_s"],
            "notifications/s",
            seconds=figures["seconds"],
        )
        report.add(
            "notify", "e-mails to the local SMTP server", figures["emails_per_s"], "e-mails/s"
        )
        report.add(
            "notify", "web pushes to the local push service", figures["pushes_per_s"], "pushes/s"
        )
    finally:
        for process in (mail, push):
            process.terminate()
            process.wait(10)


async def _seed(app: Any, push_url: str, application_server_key: str) -> list[Any]:
    """Companies, each with an owner who has one subscribed browser."""
    companies = []
    async with httpx.AsyncClient() as client:
        subscriptions = [
            (
                await client.post(
                    f"{push_url}/subscriptions",
                    json={"application_server_key": application_server_key},
                )
            ).json()
            for _ in range(COMPANIES)
        ]
    async with app.runtime.db.transaction() as session:
        for i, subscription in enumerate(subscriptions):
            company, owner = new_id(), new_id()
            companies.append(company)
            session.add(Person(user_id=owner, email=f"dona{i}@exemplo.com.br", name=f"Dona {i}"))
            session.add(Membership(company_id=company, user_id=owner, role="owner"))
            session.add(
                PushSubscription(
                    id=new_id(),
                    user_id=owner,
                    endpoint=subscription["endpoint"],
                    p256dh=subscription["keys"]["p256dh"],
                    auth_secret=subscription["keys"]["auth"],
                    created_at=utcnow(),
                )
            )
    return companies


async def _deliver(app: Any, bootstrap: str, companies: list[Any]) -> dict[str, float]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    actor = Actor.system("bench")
    started = time.perf_counter()
    try:
        for i in range(NOTIFICATIONS):
            command = SendNotification(
                notification_id=new_id(),
                channel=Channel.EMAIL,
                template="service-active",
                recipient=Recipient(),
                data={"domain": f"loja{i}.com.br", "username": f"loja{i}", "link": "http://x/s"},
            )
            company = companies[i % len(companies)]
            envelope = Envelope.of(command, actor=actor, company_id=company)
            await producer.send(NOTIFY_COMMANDS.name, encode(envelope), key=str(company).encode())
        await producer.flush()
    finally:
        await producer.stop()
    sent = sa.select(Delivery.channel, sa.func.count()).where(Delivery.status == "sent")  # type: ignore[arg-type]
    deadline = time.monotonic() + 600
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        async with app.runtime.db.transaction() as session:
            counts = dict((await session.execute(sent.group_by(Delivery.channel))).all())  # type: ignore[arg-type]
        if counts.get("email", 0) >= NOTIFICATIONS and counts.get("push", 0) >= NOTIFICATIONS:
            break
        await asyncio.sleep(0.2)
    seconds = time.perf_counter() - started
    done = min(counts.get("email", 0), counts.get("push", 0))  # both channels delivered
    return {
        "seconds": round(seconds, 2),
        "notifications_per_s": done / seconds,
        "emails_per_s": counts.get("email", 0) / seconds,
        "pushes_per_s": counts.get("push", 0) / seconds,
    }
