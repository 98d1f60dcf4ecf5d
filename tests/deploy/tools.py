"""Shared by the deploy tests: the Prometheus tools, and the dashboard's queries."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "risk-warnings.json"
PROMETHEUS_DIR = DEPLOY / "prometheus"
# What CI needs (.ci/run); the Debian package gives /usr/bin/prometheus and /usr/bin/promtool.
APT_INSTALL = "apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus"


def prometheus_tool(name: str) -> str:
    """Path of `promtool` or `prometheus`; installs the Debian package when it can, else skips."""
    found = shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None)
    if found:
        return found
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        out = subprocess.run(["sh", "-c", APT_INSTALL], capture_output=True, text=True, timeout=900)
        found = shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None)
        if found:
            return found
        pytest.skip(f"{name} not found and `{APT_INSTALL}` failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    pytest.skip(f"{name} not found and cannot be installed here (needs root and apt-get): run `{APT_INSTALL}`")


def load_dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def panels(dashboard: dict) -> list[dict]:
    """Every panel, including those nested in collapsed rows."""
    out = []
    for p in dashboard.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def dashboard_queries(dashboard: dict) -> list[tuple[str, str]]:
    """(panel title / refId, PromQL expression) of every target of every panel."""
    return [(f"{p['title']} / {t.get('refId')}", t["expr"])
            for p in panels(dashboard) if p.get("type") != "row"
            for t in p.get("targets", []) if t.get("expr")]


# Grafana's built-in variables, replaced as a test run can afford (scrape every 1 s).
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "10m"}


def concrete(expr: str, variables: dict[str, str]) -> str:
    """The expression Grafana would send, for the given dashboard variable values."""
    for name, value in {**GRAFANA_VARIABLES, **{f"${k}": v for k, v in variables.items()}}.items():
        expr = expr.replace(name, value)
    if "$" in expr:
        raise AssertionError(f"unreplaced variable in {expr!r}")
    return expr


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_BRACES = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_WORD = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
PROMQL_WORDS = {
    # functions
    "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
    "count_over_time", "day_of_month", "day_of_week", "days_in_month", "delta", "deriv", "exp", "floor",
    "histogram_quantile", "histogram_count", "histogram_sum", "holt_winters", "hour", "idelta", "increase", "irate",
    "label_join", "label_replace", "last_over_time", "ln", "log10", "log2", "max_over_time", "min_over_time",
    "minute", "month", "predict_linear", "present_over_time", "quantile_over_time", "rate", "resets", "round",
    "scalar", "sgn", "sort", "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time", "sum_over_time",
    "time", "timestamp", "vector", "year",
    # aggregations and keywords
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    "inf", "nan",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (label matchers, ranges and strings removed)."""
    s = _STRING.sub(" ", expr)
    s = _BRACES.sub(" ", s)
    s = _RANGE.sub(" ", s)
    s = _GROUPING.sub(" ", s)
    s = re.sub(r"\b\d+(\.\d+)?(e[+-]?\d+)?\b", " ", s)
    names = {w for w in _WORD.findall(s) if w.lower() not in PROMQL_WORDS}
    # a function call is a word followed by "(": only the known ones above are allowed
    for call in re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\(", s):
        if call.lower() not in PROMQL_WORDS:
            raise AssertionError(f"unknown PromQL function {call!r} in {expr!r}")
    return names


def service_metric_names() -> set[str]:
    """Every series name the service's registry can expose (with _total, _bucket ... suffixes)."""
    from service import metrics

    suffixes = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum", "_created"),
                "summary": ("", "_count", "_sum", "_created"), "info": ("_info",)}
    names = set()
    for family in metrics.REGISTRY.collect():
        for suffix in suffixes.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names
