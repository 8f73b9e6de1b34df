"""What the dns service consumes: message in → one service call."""

from __future__ import annotations

from hospeda.contracts.topics import DNS_COMMANDS, NOTIFY_COMMANDS
from hospeda.runtime.messaging import MessageRouter
from hospeda.runtime.probe import forward_probes


def build_router() -> MessageRouter:
    router = MessageRouter("dns")
    forward_probes(router, listen=DNS_COMMANDS, forward_to=NOTIFY_COMMANDS)
    return router
