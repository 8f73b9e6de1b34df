"""The receiving service of the outbox → inbox benchmark, in its own process.

    python receiver.py <database_url> <bootstrap> <count>

Prints ``ready`` once its consumer has joined, then ``done <unix time>`` when
it has applied ``count`` messages through its inbox.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from hospeda.contracts import Envelope
from hospeda.contracts.audit import AuditRecord
from hospeda.contracts.topics import AUDIT_RECORDS
from hospeda.runtime.messaging import MessageContext, MessageRouter
from hospeda.runtime.service import ServiceRuntime
from hospeda.runtime.settings import ServiceSettings


class ReceiverSettings(ServiceSettings):
    service_name = "receiver"


async def main(database_url: str, bootstrap: str, count: int) -> None:
    router = MessageRouter("receiver")
    applied = 0
    finished = asyncio.Event()

    @router.on(AUDIT_RECORDS, AuditRecord)
    async def apply(message: Envelope[Any], ctx: MessageContext) -> None:
        nonlocal applied
        applied += 1
        if applied >= count:
            finished.set()

    settings = ReceiverSettings(
        DATABASE_URL=database_url,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        HOSPEDA_ENV="test",
        HOSPEDA_LOG_LEVEL="WARNING",
        HOSPEDA_LOG_JSON=False,
        HOSPEDA_KAFKA_SESSION_TIMEOUT_MS=2000,
    )
    runtime = ServiceRuntime(settings, router=router)
    await runtime.start()
    print("ready", flush=True)
    await finished.wait()
    print(f"done {time.time()}", flush=True)
    await runtime.stop()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
