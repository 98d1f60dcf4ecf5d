"""A repair ticket: created, dispatched, crew arrived, completed, followed up."""

from __future__ import annotations

from .common import context, earliest, once

TIMES = {
    "ticket.created": "created_at",
    "ticket.dispatched": "dispatched_at",
    "ticket.arrived": "arrived_at",
    "ticket.completed": "completed_at",
    "ticket.followed_up": "followed_up_at",
    "ticket.reopened": "reopened_at",
}


def fold(facts: dict, event: dict, ts: float) -> None:
    kind = event["type"]
    if kind.startswith("derived."):
        return
    facts.setdefault("ticket_id", event["ticket_id"])
    if kind == "ticket.created":
        context(facts, event, ("district_id", "area_type", "category", "priority", "outage_id"))
    elif kind in ("ticket.dispatched", "ticket.arrived"):
        context(facts, event, ("crew_id",))
    elif kind == "ticket.followed_up":
        context(facts, event, ("satisfied",))
    earliest(facts, TIMES[kind], ts)


def arrival_time(facts: dict) -> float | None:
    # A completion without an arrival event still means the crew was there.
    return facts.get("arrived_at") or facts.get("completed_at")


def derive(facts: dict) -> list[tuple[str, dict]]:
    """Feed the district: arrival minutes once known, follow-up satisfaction once given."""
    out = []
    district, tid = facts.get("district_id"), facts["ticket_id"]
    if district is None:
        return out
    arrived = arrival_time(facts)
    if arrived is not None and facts.get("created_at") is not None and once(facts, "arrival"):
        out.append((f"district:{district}", {
            "type": "derived.ticket_arrival", "event_id": f"ticket:{tid}:arrival", "ts": arrived,
            "ticket_id": tid, "district_id": district, "area_type": facts.get("area_type") or "urban",
            "priority": facts.get("priority"), "minutes": (arrived - facts["created_at"]) / 60.0,
        }))
    if facts.get("followed_up_at") is not None and "satisfied" in facts and once(facts, "followed_up"):
        out.append((f"district:{district}", {
            "type": "derived.ticket_followed_up", "event_id": f"ticket:{tid}:followed_up",
            "ts": facts["followed_up_at"], "ticket_id": tid, "district_id": district,
            "satisfied": facts["satisfied"],
        }))
    return out
