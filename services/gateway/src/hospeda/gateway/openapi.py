"""The published HTTP API: ``services/gateway/openapi.json`` is committed, so a
change to it shows in review, and a change that would break a partner's
generated client is refused (as the message contracts are)::

    python -m hospeda.gateway.openapi write   # regenerate (refuses breaking changes)
    python -m hospeda.gateway.openapi check   # fail if stale or breaking (the suite)

Breaking: an operation removed, a new required parameter or request field, a
request or response field removed or retyped, an enum value removed. Adding
operations, optional inputs and answer fields is not.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hospeda.contracts.schema import breaking_changes

BASELINE = Path(__file__).resolve().parents[3] / "openapi.json"
METHODS = ("get", "put", "post", "delete", "patch")


def document() -> dict[str, Any]:
    """The gateway's OpenAPI document, as the running gateway serves it."""
    from hospeda.gateway.app import create_app
    from hospeda.gateway.config import GatewaySettings

    # the published names: production's cookies (``__Host-``), whatever this machine's env
    return create_app(GatewaySettings(cookie_secure=True)).openapi()


def _rendered(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _rooted(node: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """``node`` with the document's schemas beside it, where ``$ref``s are resolved."""
    return {**node, "$defs": doc.get("components", {}).get("schemas", {})}


def _body_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    for media in content.values():
        if "schema" in media:
            schema: dict[str, Any] = media["schema"]
            return schema
    return None


def _answer_schemas(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for status, answer in operation.get("responses", {}).items():
        if not status.startswith("2"):
            continue
        for media in answer.get("content", {}).values():
            if "schema" in media:
                found[status] = media["schema"]
                break
    return found


def _required_parameters(operation: dict[str, Any]) -> set[tuple[str, str]]:
    return {(p["in"], p["name"]) for p in operation.get("parameters", []) if p.get("required")}


def breaking(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What in ``new`` breaks a client written against ``old``."""
    problems: list[str] = []
    for path, item in old.get("paths", {}).items():
        for method in METHODS:
            if method not in item:
                continue
            where = f"{method.upper()} {path}"
            before = item[method]
            after = new.get("paths", {}).get(path, {}).get(method)
            if after is None:
                problems.append(f"{where}: removed")
                continue
            added = _required_parameters(after) - _required_parameters(before)
            problems.extend(f"{where}: new required {i} parameter {n!r}" for i, n in sorted(added))
            old_body, new_body = _body_schema(before), _body_schema(after)
            needs_body = after.get("requestBody", {}).get("required")
            if old_body is None and new_body is not None and needs_body:
                problems.append(f"{where}: now needs a request body")
            if old_body is not None and new_body is not None:
                for change in breaking_changes(_rooted(old_body, old), _rooted(new_body, new)):
                    problems.append(f"{where} request{change}")
            new_answers = _answer_schemas(after)
            for status, old_answer in _answer_schemas(before).items():
                if status not in new_answers:
                    problems.append(f"{where}: no longer answers {status}")
                    continue
                changes = breaking_changes(
                    _rooted(old_answer, old), _rooted(new_answers[status], new)
                )
                # an answer field that became required is a promise more, not a break
                problems.extend(
                    f"{where} answer {status}{c}" for c in changes if not c.endswith("now required")
                )
    return problems


def _problems(baseline: Path, current: dict[str, Any]) -> list[str]:
    """Breaking changes of ``current`` against the committed document, then staleness."""
    if not baseline.exists():
        return [f"{baseline.name}: missing (run `make contracts`)"]
    committed = baseline.read_text()
    problems = [
        f"{baseline.name}: breaking change {c} — add a new route beside it instead"
        for c in breaking(json.loads(committed), current)
    ]
    if committed != _rendered(current):
        problems.append(f"{baseline.name}: stale (run `make contracts`)")
    return problems


def check(baseline: Path = BASELINE) -> list[str]:
    """Problems with the committed document: breaking changes first, then staleness."""
    return _problems(baseline, document())


def write(baseline: Path = BASELINE) -> list[str]:
    """Regenerate the document; refuses (and writes nothing) on a breaking change."""
    current = document()
    refused = [p for p in _problems(baseline, current) if "stale" not in p and "missing" not in p]
    if refused:
        return refused
    baseline.write_text(_rendered(current))
    return []


def main(argv: list[str]) -> int:
    problems = write() if len(argv) > 1 and argv[1] == "write" else check()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
