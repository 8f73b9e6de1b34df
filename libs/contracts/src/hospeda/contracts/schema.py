"""Generate the published JSON Schemas and AsyncAPI document, and refuse
changes that would break a published message.

    python -m hospeda.contracts.schema write   # regenerate (refuses breaking changes)
    python -m hospeda.contracts.schema check   # fail if stale or breaking (CI)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from hospeda.contracts.envelope import Payload, envelope_class
from hospeda.contracts.registry import MESSAGE_TYPES
from hospeda.contracts.topics import TOPICS

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas"
"""``libs/contracts/schemas``: what partners download; committed."""

ASYNCAPI_FILE = "asyncapi.json"


def schema_file_name(payload: type[Payload]) -> str:
    return f"{payload.TYPE}.v{payload.VERSION}.json"


def _pin_discriminator(schema: dict[str, Any], payload: type[Payload]) -> dict[str, Any]:
    props = schema["properties"]
    props["type"] = {
        "const": payload.TYPE,
        "type": "string",
        "description": props["type"].get("description", ""),
    }
    props["version"] = {"const": payload.VERSION, "type": "integer"}
    schema["title"] = payload.__name__
    schema["description"] = (payload.__doc__ or "").strip()
    return schema


def message_schema(payload: type[Payload]) -> dict[str, Any]:
    """The standalone JSON Schema (draft 2020-12) of one message, envelope included."""
    schema = envelope_class(payload).model_json_schema(mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return _pin_discriminator(schema, payload)


def asyncapi_document() -> dict[str, Any]:
    """One AsyncAPI 3.0 document for every topic and message."""
    payloads = sorted(MESSAGE_TYPES.values(), key=lambda p: p.TYPE)
    _, defs = models_json_schema(
        [(envelope_class(p), "validation") for p in payloads],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = defs.get("$defs", {})
    messages: dict[str, Any] = {}
    for payload in payloads:
        env_name = (
            envelope_class(payload).__name__.replace("[", "_").replace("]", "").replace(".", "_")
        )
        source = schemas.pop(_schema_key(schemas, payload), None)
        if source is None:
            raise RuntimeError(f"no schema generated for {payload.TYPE}")
        schemas[env_name] = _pin_discriminator(source, payload)
        messages[payload.__name__] = {
            "name": payload.TYPE,
            "title": payload.__name__,
            "summary": (payload.__doc__ or "").strip().splitlines()[0] if payload.__doc__ else "",
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{env_name}"},
        }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in TOPICS:
        channel_id = topic.name.replace(".", "_")
        channels[channel_id] = {
            "address": topic.name,
            "description": f"{topic.description} Key: {topic.key}. Produced by: {topic.producer}. "
            f"Unhandleable messages go to `{topic.dlq}`.",
            "messages": {
                m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in topic.messages
            },
        }
        operations[f"receive_{channel_id}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [
                {"$ref": f"#/channels/{channel_id}/messages/{m.__name__}"} for m in topic.messages
            ],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Hospeda",
            "version": "1.0.0",
            "description": "Every Kafka topic of the Hospeda hosting platform. Each message is a JSON "
            "envelope (id, type, version, occurred_at, company_id, actor, ip, correlation_id, "
            "causation_id) around a payload chosen by `type`. Delivery is at least once: "
            "deduplicate by `id`. Trace context travels in the `traceparent` header.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {"host": "localhost:9092", "protocol": "kafka", "description": "`make run`"}
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def _schema_key(schemas: dict[str, Any], payload: type[Payload]) -> str:
    wanted = f"Envelope[{payload.__name__}]"
    for key, value in schemas.items():
        if value.get("title") == wanted:
            return key
    raise RuntimeError(f"no schema titled {wanted}")


# --- compatibility ------------------------------------------------------------


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        ref = node["$ref"]
        name = ref.rsplit("/", 1)[-1]
        node = root.get("$defs", {})[name]
    return node


def _variants(node: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    node = _resolve(node, root)
    if "anyOf" in node:
        return [_resolve(v, root) for v in node["anyOf"]]
    return [node]


def _signature(node: dict[str, Any]) -> str:
    if "properties" in node or node.get("type") == "object":
        return "object"
    if "const" in node:
        return f"const:{node['const']!r}"
    if "enum" in node:
        return "enum"
    kind = node.get("type", "any")
    if kind == "array":
        return "array"
    return f"{kind}:{node.get('format', '')}"


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What in ``new`` breaks readers or writers of the published ``old``:
    a removed field, a retyped field, an optional field made required, or a
    removed enum value."""
    problems: list[str] = []

    def compare(old_node: dict[str, Any], new_node: dict[str, Any], path: str) -> None:
        old_vs = _variants(old_node, old)
        new_vs = _variants(new_node, new)
        new_by_sig: dict[str, list[dict[str, Any]]] = {}
        for variant in new_vs:
            new_by_sig.setdefault(_signature(variant), []).append(variant)
        for old_v in old_vs:
            sig = _signature(old_v)
            candidates = new_by_sig.get(sig)
            if not candidates:
                problems.append(f"{path or '<root>'}: type {sig} is no longer accepted")
                continue
            target = candidates[0]
            if sig == "object":
                old_props = old_v.get("properties", {})
                new_props = target.get("properties", {})
                for name, sub in old_props.items():
                    if name not in new_props:
                        problems.append(f"{path}.{name}: removed")
                    else:
                        compare(sub, new_props[name], f"{path}.{name}")
                newly_required = set(target.get("required", [])) - set(old_v.get("required", []))
                problems.extend(f"{path}.{name}: now required" for name in sorted(newly_required))
            elif sig == "enum":
                lost = set(old_v["enum"]) - set(target.get("enum", []))
                if lost:
                    problems.append(f"{path}: enum values removed {sorted(lost)}")
            elif sig == "array" and "items" in old_v:
                compare(old_v["items"], target.get("items", {}), f"{path}[]")

    compare(old, new, "")
    return problems


# --- files ------------------------------------------------------------------------


def expected_files() -> dict[str, str]:
    """File name → content for everything generated."""
    files = {
        f"messages/{schema_file_name(p)}": json.dumps(
            message_schema(p), indent=2, ensure_ascii=False
        )
        + "\n"
        for p in MESSAGE_TYPES.values()
    }
    files[ASYNCAPI_FILE] = json.dumps(asyncapi_document(), indent=2, ensure_ascii=False) + "\n"
    return files


def check(schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Problems with the committed schemas: breaking changes first, then staleness."""
    problems: list[str] = []
    expected = expected_files()
    for name, content in expected.items():
        path = schema_dir / name
        if not path.exists():
            problems.append(f"{name}: missing (run `make contracts`)")
            continue
        committed = path.read_text()
        if name.startswith("messages/"):
            for change in breaking_changes(json.loads(committed), json.loads(content)):
                problems.append(f"{name}: breaking change {change} — publish a new version instead")
        if committed != content:
            problems.append(f"{name}: stale (run `make contracts`)")
    committed_messages = {f"messages/{p.name}" for p in (schema_dir / "messages").glob("*.json")}
    for name in sorted(committed_messages - expected.keys()):
        problems.append(
            f"{name}: a published message disappeared — keep it, publish a new version beside it"
        )
    return problems


def write(schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Regenerate the files; refuses (and writes nothing) if a change is breaking."""
    breaking = [p for p in check(schema_dir) if "stale" not in p and "missing" not in p]
    if breaking:
        return breaking
    for name, content in expected_files().items():
        path = schema_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return []


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    problems = write() if command == "write" else check()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
