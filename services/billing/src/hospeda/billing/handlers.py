"""What the billing service consumes: message in → one service call."""

from __future__ import annotations

from hospeda.contracts.topics import BILLING_COMMANDS, PROVISIONING_COMMANDS
from hospeda.runtime.messaging import MessageRouter
from hospeda.runtime.probe import forward_probes


def build_router() -> MessageRouter:
    router = MessageRouter("billing")
    forward_probes(router, listen=BILLING_COMMANDS, forward_to=PROVISIONING_COMMANDS)
    return router
