"""A customer account: bills, payments, risk flags (fee recovery).

Events of other kinds that reach an account (meter alarms naming it) leave
the facts alone; rules that need them keep their own state.
"""

from __future__ import annotations

from .common import context


def fold(facts: dict, event: dict, ts: float) -> None:
    facts.setdefault("account_id", event.get("account_id"))
    context(facts, event, ("district_id",))


def derive(facts: dict) -> list[tuple[str, dict]]:
    return []
