"""An outbox relay that dies like a killed process (``os._exit``) right after
the broker acknowledged the Nth message — after publishing, before the rows
are deleted — to test that a crash there loses nothing and doubles nothing.

    python crashing_relay.py <database_url> <bootstrap> <crash_after_messages>
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from aiokafka import AIOKafkaProducer

from hospeda.runtime.db import Database
from hospeda.runtime.relay import OutboxRelay


class CrashingProducer:
    def __init__(self, producer: AIOKafkaProducer, crash_after: int) -> None:
        self.producer = producer
        self.crash_after = crash_after
        self.sent = 0

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        delivery = await self.producer.send(*args, **kwargs)
        self.sent += 1
        if self.sent == self.crash_after:
            delivery.add_done_callback(lambda _: os._exit(9))
        return delivery


async def main(database_url: str, bootstrap: str, crash_after: int) -> None:
    db = Database(database_url)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    relay = OutboxRelay(
        db, CrashingProducer(producer, crash_after), service="rtsvc", batch_size=500
    )  # type: ignore[arg-type]
    while True:
        await relay.publish_batch()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
