"""Small fold helpers shared by the subject kinds."""

from __future__ import annotations


def earliest(facts: dict, field: str, ts: float) -> None:
    current = facts.get(field)
    if current is None or ts < current:
        facts[field] = ts


def context(facts: dict, event: dict, fields: tuple[str, ...]) -> None:
    """First-wins, like every fact: a later event (a resend, a producer's mistake or a hostile one)
    cannot move a subject to another district, feeder or crew, and arrival order does not matter."""
    for f in fields:
        if facts.get(f) is None and event.get(f) is not None:
            facts[f] = event[f]


def once(facts: dict, name: str) -> bool:
    """True the first time `name` is asked for on this subject: derive each event once."""
    sent = facts.setdefault("derived", {})
    if name in sent:
        return False
    sent[name] = 1
    return True


def forget(facts: dict, names) -> None:
    """Drop the names of derivations whose source was pruned: they cannot come back."""
    sent = facts.get("derived")
    if sent:
        for name in names:
            sent.pop(name, None)
