"""Entities: the folded history of one ticket or one outage.

Each reducer turns the entity's events, in whatever order they arrive, into a
small dict of facts (when it was created, when the crew arrived ...). Facts
are first-wins or min/max, never toggles, so a redelivered or out-of-order
event leaves the same entity behind. Rules read only these facts.
"""

from __future__ import annotations

from .timefmt import to_epoch

EVIDENCE_TYPES = 20


def _first(entity: dict, field: str, value) -> None:
    if entity.get(field) is None and value is not None:
        entity[field] = value


def _earliest(entity: dict, field: str, ts: float) -> None:
    current = entity.get(field)
    if current is None or ts < current:
        entity[field] = ts


def _context(entity: dict, event: dict, fields: tuple[str, ...]) -> None:
    for f in fields:
        if event.get(f) is not None:
            entity[f] = event[f]


def fold_ticket(entity: dict, event: dict, ts: float) -> None:
    kind = event["type"]
    entity.setdefault("ticket_id", event["ticket_id"])
    if kind == "ticket.created":
        _context(entity, event, ("district_id", "area_type", "category", "priority", "outage_id"))
        _earliest(entity, "created_at", ts)
    elif kind == "ticket.dispatched":
        _context(entity, event, ("crew_id",))
        _earliest(entity, "dispatched_at", ts)
    elif kind == "ticket.arrived":
        _context(entity, event, ("crew_id",))
        _earliest(entity, "arrived_at", ts)
    elif kind == "ticket.completed":
        _earliest(entity, "completed_at", ts)
    elif kind == "ticket.followed_up":
        _earliest(entity, "followed_up_at", ts)
    elif kind == "ticket.reopened":
        _earliest(entity, "reopened_at", ts)


def fold_outage(entity: dict, event: dict, ts: float) -> None:
    kind = event["type"]
    entity.setdefault("outage_id", event["outage_id"])
    if kind in ("outage.scheduled", "outage.started"):
        _context(entity, event, ("district_id", "feeder_id", "area_type", "customers_affected"))
        if kind == "outage.started" or entity.get("kind") is None:
            entity["kind"] = event["kind"]
    if kind == "outage.scheduled":
        entity["scheduled_start"] = to_epoch(event["scheduled_start"])
        entity["scheduled_end"] = to_epoch(event["scheduled_end"])
        _earliest(entity, "scheduled_at", ts)
    elif kind == "outage.started":
        _earliest(entity, "started_at", ts)
    elif kind == "outage.notice_published":
        _earliest(entity, "first_notice_at", ts)
    elif kind in ("outage.restored", "outage.cancelled"):
        _earliest(entity, "ended_at", ts)
        entity["end"] = "restored" if kind == "outage.restored" else "cancelled"


def remember_evidence(entity: dict, event: dict) -> None:
    """Keep the first event id of each type: what a duty officer can look up."""
    evidence = entity.setdefault("evidence", {})
    if len(evidence) < EVIDENCE_TYPES:
        evidence.setdefault(event["type"], event["event_id"])


FOLDS = {"ticket": fold_ticket, "outage": fold_outage}

ENTITY_OF_PREFIX = {"ticket.": "ticket", "outage.": "outage"}
ID_FIELD = {"ticket": "ticket_id", "outage": "outage_id"}


def entity_kind(event_type: str) -> str | None:
    for prefix, kind in ENTITY_OF_PREFIX.items():
        if event_type.startswith(prefix):
            return kind
    return None


def state_key(event: dict) -> str | None:
    """The key of the state an event updates: 'ticket:T1', 'outage:O7'."""
    kind = entity_kind(event["type"])
    if kind is None:
        return None
    return f"{kind}:{event[ID_FIELD[kind]]}"
