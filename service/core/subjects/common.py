"""Small fold helpers shared by the subject kinds."""

from __future__ import annotations


def first(facts: dict, field: str, value) -> None:
    if facts.get(field) is None and value is not None:
        facts[field] = value


def earliest(facts: dict, field: str, ts: float) -> None:
    current = facts.get(field)
    if current is None or ts < current:
        facts[field] = ts


def context(facts: dict, event: dict, fields: tuple[str, ...]) -> None:
    for f in fields:
        if event.get(f) is not None:
            facts[f] = event[f]


def once(facts: dict, name: str) -> bool:
    """True the first time `name` is asked for on this subject: derive each event once."""
    sent = facts.setdefault("derived", [])
    if name in sent:
        return False
    sent.append(name)
    return True
