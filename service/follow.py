"""`risk-warnings follow`: the warning topic, readable, as it happens."""

from __future__ import annotations

import json
import sys

from kafka import KafkaConsumer

from .config import Settings

COLOURS = {"blue": "\033[34m", "yellow": "\033[33m", "orange": "\033[38;5;208m", "red": "\033[31m"}
RESOLVED, RESET = "\033[32m", "\033[0m"


def render(w: dict, colour: bool = True) -> str:
    scope = " ".join(f"{k}={v}" for k, v in w["scope"].items())
    tag = f"{w['transition'].upper():<12} {w['severity']:<6}"
    if colour:
        tag = (RESOLVED if w["status"] == "resolved" else COLOURS.get(w["severity"], "")) + tag + RESET
    m = w["metric"]
    value = "no samples" if w.get("no_samples") else f"{m['value']:g} {m['unit']}"
    return (f"{w['changed_at'][:19]} {tag} {w['rule_id']:<24} {scope}\n"
            f"    {m['name']}={value} (threshold {m['threshold']:g})  {w['summary']}")


def follow(settings: Settings, from_beginning: bool = False, limit: int | None = None) -> int:
    consumer = KafkaConsumer(
        settings.topics.risk_warnings,
        bootstrap_servers=settings.kafka_bootstrap.split(","),
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
        group_id=None,
        **settings.kafka_security.client_options(),
    )
    colour = sys.stdout.isatty()
    seen = 0
    try:
        for record in consumer:
            print(render(json.loads(record.value), colour), flush=True)
            seen += 1
            if limit is not None and seen >= limit:
                break
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0
