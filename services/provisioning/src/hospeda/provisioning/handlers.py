"""What the provisioning service consumes: message in → one service call."""

from __future__ import annotations

from hospeda.contracts.topics import DNS_COMMANDS, PROVISIONING_COMMANDS
from hospeda.runtime.messaging import MessageRouter
from hospeda.runtime.probe import forward_probes


def build_router() -> MessageRouter:
    router = MessageRouter("provisioning")
    forward_probes(router, listen=PROVISIONING_COMMANDS, forward_to=DNS_COMMANDS)
    return router
