"""A partner's consumer of Hospeda's event topics, with confluent-kafka (librdkafka).

It joins a consumer group, checks every message against the JSON Schema the
platform publishes for its type (``/docs/schemas/<type>.v<version>.json`` on
the gateway, or a folder of those files), prints one JSON line per message and
commits only after it was handled (at least once: a message may come again,
deduplicate by its ``id``). Unknown message types and unknown fields are
ignored, as the guide at ``/docs/eventos`` asks.

    python examples/partner_consumer.py --bootstrap 127.0.0.1:9092 \\
        --topic billing.invoice.v1 --schemas http://localhost:8000/docs/schemas
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError
from jsonschema import Draft202012Validator


class Schemas:
    """The published schema of each message type, fetched once."""

    def __init__(self, source: str) -> None:
        self.source = source.rstrip("/")
        self._known: dict[str, Draft202012Validator | None] = {}

    def validator(self, name: str) -> Draft202012Validator | None:
        if name not in self._known:
            self._known[name] = self._load(name)
        return self._known[name]

    def _load(self, name: str) -> Draft202012Validator | None:
        try:
            if self.source.startswith(("http://", "https://")):
                with urllib.request.urlopen(f"{self.source}/{name}", timeout=10) as answer:  # noqa: S310 - the operator's URL
                    schema = json.load(answer)
            else:
                schema = json.loads((Path(self.source) / name).read_text())
        except (OSError, ValueError):
            return None  # a type this consumer does not know: ignored
        return Draft202012Validator(schema)


def handle(value: bytes | None, schemas: Schemas) -> dict[str, Any]:
    """What one message is: its type, and whether it matches its schema."""
    try:
        message = json.loads(value or b"")
    except ValueError:
        return {"valid": False, "error": "not JSON"}
    kind, version = message.get("type"), message.get("version", 1)
    validator = schemas.validator(f"{kind}.v{version}.json")
    if validator is None:
        return {"type": kind, "valid": None, "note": "unknown type, ignored"}
    errors = sorted(validator.iter_errors(message), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].path) or "(root)"
        return {"type": kind, "id": message.get("id"), "valid": False,
                "error": f"{where}: {errors[0].message}"[:300]}  # fmt: skip
    return {"type": kind, "id": message.get("id"), "valid": True,
            "company_id": message.get("company_id"), "payload": message.get("payload")}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", action="append", required=True)
    parser.add_argument("--group", default="partner-exemplo")
    parser.add_argument("--schemas", default="http://localhost:8000/docs/schemas")
    parser.add_argument("--from-beginning", action="store_true")
    parser.add_argument("--max-messages", type=int, default=0, help="0: run until Ctrl-C")
    parser.add_argument("--timeout", type=float, default=0, help="give up after this many s")
    parser.add_argument("--sasl-username")
    parser.add_argument("--sasl-password")
    args = parser.parse_args(argv)
    config: dict[str, Any] = {
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "auto.offset.reset": "earliest" if args.from_beginning else "latest",
        "enable.auto.commit": False,  # commit after handling: at least once
        # the local broker waits half the session timeout before a group's first join
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1500,
    }
    if args.sasl_username:
        config |= {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": args.sasl_username,
            "sasl.password": args.sasl_password or "",
        }
    consumer = Consumer(config)
    consumer.subscribe(args.topic)
    schemas = Schemas(args.schemas)
    seen = 0
    deadline = time.monotonic() + args.timeout if args.timeout else None
    try:
        while not args.max_messages or seen < args.max_messages:
            if deadline is not None and time.monotonic() > deadline:
                return 1
            record = consumer.poll(0.5)
            if record is None:
                continue
            error = record.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    print(json.dumps({"error": str(error)}), file=sys.stderr, flush=True)
                continue
            line = {
                "topic": record.topic(),
                "partition": record.partition(),
                "offset": record.offset(),
                "key": (record.key() or b"").decode(errors="replace"),
                **handle(record.value(), schemas),
            }
            print(json.dumps(line, ensure_ascii=False), flush=True)
            consumer.commit(message=record, asynchronous=False)
            seen += 1
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
