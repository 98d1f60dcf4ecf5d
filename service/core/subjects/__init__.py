"""Subjects: what state is kept about, and which events reach it.

A subject is one ticket, outage, account, district, feeder or staff member,
stored under the key "<kind>:<id>". Each kind has a fold that turns its
events, in whatever order they arrive, into a small dict of facts (first-wins
or min/max, never toggles, so a redelivered or out-of-order event leaves the
same facts), and may derive internal events for other subjects (a ticket's
arrival time feeds its district's statistics). Derived events carry a
deterministic event id, so a re-derivation is recognised downstream.
"""

from __future__ import annotations

from collections.abc import Callable

from . import account, outage, staff_district, ticket

Fold = Callable[[dict, dict, float], None]
Derive = Callable[[dict], list[tuple[str, dict]]]


def _no_derive(facts: dict) -> list[tuple[str, dict]]:
    return []


FOLDS: dict[str, Fold] = {
    "ticket": ticket.fold,
    "account": account.fold,
    "outage": outage.fold,
    "district": staff_district.fold,
    "feeder": staff_district.fold,
    "staff": staff_district.fold,
}
DERIVES: dict[str, Derive] = {"ticket": ticket.derive, "outage": outage.derive, "account": account.derive}


def derive(kind: str, facts: dict) -> list[tuple[str, dict]]:
    return DERIVES.get(kind, _no_derive)(facts)


def routes(event: dict) -> list[str]:
    """The state keys an input event updates."""
    t = event["type"]
    if t.startswith("ticket."):
        return [f"ticket:{event['ticket_id']}"]
    if t.startswith("outage."):
        return [f"outage:{event['outage_id']}"]
    if t in ("bill.issued", "payment.received", "account.risk_flagged"):
        return [f"account:{event['account_id']}"]
    keys = []
    if t in ("complaint.received", "survey.completed", "meter.alarm"):
        keys.append(f"district:{event['district_id']}")
        if event.get("staff_id"):
            keys.append(f"staff:{event['staff_id']}")
        if t == "meter.alarm" and event.get("account_id"):
            keys.append(f"account:{event['account_id']}")
    return keys


EVIDENCE_TYPES = 20


def remember_evidence(facts: dict, event: dict, ts: float) -> None:
    """Keep the first event id of each type, with its time: what a duty officer can look up."""
    evidence = facts.setdefault("evidence", {})
    if len(evidence) < EVIDENCE_TYPES and event["type"] not in evidence:
        evidence[event["type"]] = [event["event_id"], ts]
