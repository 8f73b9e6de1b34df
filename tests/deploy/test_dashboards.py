"""The dashboards in deploy/grafana/dashboards read only what the services
export: every metric an expression names is one of the runtime's families
(with the suffixes Prometheus gives counters and histograms), and every
label it filters or groups by is one that family carries."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client import Counter, Histogram

from hospeda.contracts.topics import TOPICS
from hospeda.runtime import metrics

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "by", "without", "rate", "increase", "irate",
    "histogram_quantile", "le", "on", "ignoring", "group_left", "group_right", "and", "or",
    "unless", "bool", "offset", "topk", "bottomk", "abs", "clamp_min", "clamp_max",
}  # fmt: skip


def exported() -> dict[str, set[str]]:
    """Series name → the labels it carries."""
    names: dict[str, set[str]] = {}
    for family in metrics.FAMILIES:
        labels = set(family._labelnames)
        base = family._name
        if isinstance(family, Counter):
            names[f"{base}_total"] = labels
        elif isinstance(family, Histogram):
            for suffix in ("_bucket", "_sum", "_count"):
                names[base + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
        else:
            names[base] = labels
    return names


def expressions() -> list[tuple[str, str]]:
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                found.append((path.name, target["expr"]))
    return found


def test_there_are_dashboards_for_jobs_lag_errors_latency_and_money() -> None:
    assert {p.stem for p in DASHBOARDS.glob("*.json")} >= {
        "jobs",
        "lag",
        "errors",
        "latency",
        "money",
    }
    for path in DASHBOARDS.glob("*.json"):
        board = json.loads(path.read_text())
        assert board["uid"].startswith("hospeda-") and board["panels"], path.name
        assert len({p["id"] for p in board["panels"]}) == len(board["panels"])


@pytest.mark.parametrize(("board", "expr"), expressions())
def test_every_expression_reads_only_exported_metrics(board: str, expr: str) -> None:
    series = exported()
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_strings)
    names = {
        word
        for word in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_ranges)
        if word.startswith("hospeda_")
    }
    assert names, f"{board}: {expr} reads no Hospeda metric"
    for name in names:
        assert name in series, f"{board}: {name} is not exported"
    labels_used = set(re.findall(r"([a-z_]+)\s*(?:=~|!=|!~|=)\s*\"", expr))
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        labels_used |= {label.strip() for label in group.split(",") if label.strip()}
    carried = set().union(*(series[name] for name in names))
    assert labels_used <= carried, f"{board}: {labels_used - carried} not on {names}"
    # message types the money board counts are real ones
    for kind in re.findall(r'type="([^"]+)"', expr):
        assert any(kind == m.TYPE for t in TOPICS for m in t.messages), kind
    for word in re.findall(r"\b([a-z_]+)\s*\(", without_ranges):
        assert word in PROMQL_WORDS, f"{board}: unknown function {word}"
