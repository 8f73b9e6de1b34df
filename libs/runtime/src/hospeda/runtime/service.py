"""The pieces every service process is made of, started and stopped in order.

A service's ``app.py`` builds a ``ServiceRuntime`` from its settings and
router (its composition root); ``python -m hospeda.<service>`` runs it until
SIGINT/SIGTERM. Tests build the same runtime and start it in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import sqlalchemy as sa

from hospeda.runtime import heartbeat, lag, metrics
from hospeda.runtime.broker import (
    ensure_topics,
    kafka_client_options,
    make_broker,
    make_producer,
)
from hospeda.runtime.db import Database
from hospeda.runtime.jobs import JobEngine, JobState, JobWorker
from hospeda.runtime.messaging import MessageConsumer, MessageRouter
from hospeda.runtime.migrate import MigrationSet, upgrade
from hospeda.runtime.relay import OutboxRelay
from hospeda.runtime.settings import ServiceSettings
from hospeda.runtime.telemetry import setup_logging, setup_tracing

log = logging.getLogger(__name__)

Background = Callable[[], Awaitable[None]]


class ServiceRuntime:
    """Database, Kafka clients, outbox relay, consumers, job workers and
    background loops of one service process."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        router: MessageRouter,
        migrations: Sequence[MigrationSet] = (),
        consumer_options: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.service = settings.service_name
        setup_logging(self.service, level=settings.log_level, json_lines=settings.log_json)
        setup_tracing(
            self.service,
            instance_id=settings.instance_id,
            otlp_endpoint=settings.otlp_endpoint,
            console=settings.trace_console,
        )
        self.db = Database(settings.database_url)
        self.migrations = tuple(migrations)
        self.producer = make_producer(settings)
        self.broker = make_broker(settings)
        self.relay = OutboxRelay(self.db, self.producer, service=self.service)
        self.router = router
        self.consumer = MessageConsumer(
            router=router,
            db=self.db,
            broker=self.broker,
            producer=self.producer,
            session_timeout_ms=settings.kafka_session_timeout_ms,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
            **(consumer_options or {}),
        )
        self.workers: list[JobWorker] = []
        self._background: list[tuple[str, Background]] = []
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._starters: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False

    def jobs(self, engine: JobEngine, **worker_options: Any) -> JobWorker:
        """Run a worker for ``engine`` in this process."""
        worker = engine.worker(
            worker_id=f"{self.settings.instance_id}-{len(self.workers)}", **worker_options
        )
        self.workers.append(worker)
        return worker

    def background(self, name: str, loop: Background) -> None:
        """Run ``loop`` (a coroutine function that runs until cancelled) while
        the service runs; it is restarted with backoff if it crashes."""
        self._background.append((name, loop))

    def on_start(self, prepare: Callable[[], Awaitable[None]]) -> None:
        """Call ``prepare`` at start-up, after the migrations and before any
        message is consumed or job claimed (e.g. seed reference data)."""
        self._starters.append(prepare)

    def on_stop(self, close: Callable[[], Awaitable[None]]) -> None:
        """Call ``close`` when the service stops, after its workers (to release
        clients the service owns: an HTTP client, a Redis connection)."""
        self._closers.append(close)

    async def start(self) -> None:
        if self._started:
            return
        if self.settings.migrate_on_start:
            await upgrade(self.db, *self.migrations)
        for prepare in self._starters:
            await prepare()
        if self.settings.create_topics:
            await ensure_topics(
                self.settings.kafka_bootstrap_servers,
                partitions=self.settings.topic_partitions,
                replication=self.settings.topic_replication,
                client_options=kafka_client_options(self.settings),
            )
        await self.producer.start()
        self.consumer.subscribe()
        await self.broker.start()
        self.relay.start()
        for worker in self.workers:
            worker.start()
        metrics.serve(
            self.service, host=self.settings.metrics_host, port=self.settings.metrics_port
        )
        loops = list(self._background)
        if self.settings.metrics_port:
            loops.append(("metrics", self._sample))
        if self.settings.heartbeat_file is not None:
            loops.append(("heartbeat", partial(heartbeat.beat, self.settings.heartbeat_file)))
        self._tasks = [
            asyncio.create_task(_supervise(name, loop), name=name) for name, loop in loops
        ]
        self._started = True
        log.info("%s started", self.service)

    async def _sample(self) -> None:
        """Keep the sampled gauges current: jobs by state, outbox backlog, the
        lag of this service's consumer groups, its dead-letter topics' size.
        A failed sample is skipped (the gauges keep their last values)."""
        offsets: lag.Offsets | None = None
        try:
            while True:
                try:
                    await self._sample_database()
                    if self.router.topics:
                        if offsets is None:
                            offsets = lag.Offsets(
                                self.settings.kafka_bootstrap_servers,
                                kafka_client_options(self.settings),
                            )
                            await offsets.start()
                        await self._sample_kafka(offsets)
                except Exception as exc:
                    log.debug("metrics sample failed: %s", exc)
                await asyncio.sleep(self.settings.metrics_interval_s)
        finally:
            if offsets is not None:
                await offsets.stop()

    async def _sample_database(self) -> None:
        async with self.db.read() as connection:
            backlog = await connection.execute(sa.text("SELECT count(*) FROM outbox_message"))
            metrics.OUTBOX_BACKLOG.labels(self.service).set(backlog.scalar() or 0)
        engines = {worker.engine for worker in self.workers}
        if engines:
            async with self.db.transaction() as session:
                for engine in engines:
                    for queue, states in (await engine.counts(session)).items():
                        for state in JobState:
                            metrics.JOBS.labels(self.service, queue, state.value).set(
                                states.get(state.value, 0)
                            )

    async def _sample_kafka(self, offsets: lag.Offsets) -> None:
        topics = self.router.topics
        group = await offsets.group_lag(self.consumer.group_id, topics)
        for topic, behind in group.by_topic().items():
            metrics.CONSUMER_LAG.labels(self.service, group.group, topic).set(behind)
        parked = await offsets.sizes(f"{topic}.dlq" for topic in topics)  # one round trip each
        for topic in topics:
            metrics.DLQ_MESSAGES.labels(self.service, topic).set(parked[f"{topic}.dlq"])

    async def migrate(self) -> None:
        """Bring this service's database schema up to date, and nothing else
        (the migration job before a rollout)."""
        try:
            await upgrade(self.db, *self.migrations)
        finally:
            await self.db.dispose()
            await self.producer.stop()  # never started; closing it keeps the log quiet

    async def stop(self) -> None:
        if not self._started:
            return
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(worker.stop() for worker in self.workers))
        for close in self._closers:
            try:
                await close()
            except Exception:
                log.exception("could not close a client of %s", self.service)
        await self.broker.stop()
        await self.relay.stop()
        await self.producer.stop()
        await self.db.dispose()
        self._started = False
        log.info("%s stopped", self.service)

    async def run_forever(self) -> None:
        """Start, wait for SIGINT or SIGTERM, stop cleanly."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()


async def _supervise(name: str, loop: Background) -> None:
    failures = 0
    while True:
        try:
            await loop()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            failures += 1
            log.exception("background loop %s crashed; restarting", name)
            await asyncio.sleep(min(2**failures, 60))


def run(runtime_factory: Callable[[], ServiceRuntime], argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m hospeda.<service>``; ``… migrate`` only
    migrates the database and exits."""
    command = list(sys.argv[1:] if argv is None else argv)
    if command not in ([], ["migrate"]):
        raise SystemExit(f"usage: python -m hospeda.<service> [migrate] (not {' '.join(command)})")
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency; keep the fallback honest
        runner = asyncio.run

    # Log as JSON from the first line: settings and keys are read (and may
    # warn) before the runtime exists; the runtime's own setup is then a no-op.
    main_module = sys.modules.get("__main__")
    spec = getattr(main_module, "__spec__", None)
    name = spec.name.split(".")[1] if spec and spec.name.startswith("hospeda.") else "service"
    setup_logging(
        name,
        level=os.environ.get("HOSPEDA_LOG_LEVEL", "INFO"),
        json_lines=os.environ.get("HOSPEDA_LOG_JSON", "true").lower() not in ("0", "false", "no"),
    )

    async def main() -> None:
        runtime = runtime_factory()
        await (runtime.migrate() if command else runtime.run_forever())

    with contextlib.suppress(KeyboardInterrupt):
        runner(main())
