"""An outage: scheduled, started, notice published, restored or cancelled."""

from __future__ import annotations

from ..timefmt import to_epoch
from .common import context, earliest, once

SUSTAINED_SECONDS = 5 * 60  # IEEE 1366: an interruption longer than 5 minutes


def fold(facts: dict, event: dict, ts: float) -> None:
    kind = event["type"]
    facts.setdefault("outage_id", event["outage_id"])
    if kind in ("outage.scheduled", "outage.started"):
        context(facts, event, ("district_id", "feeder_id", "area_type", "customers_affected"))
        if kind == "outage.started" or facts.get("kind") is None:
            facts["kind"] = event["kind"]
    if kind == "outage.scheduled":
        facts["scheduled_start"] = to_epoch(event["scheduled_start"])
        facts["scheduled_end"] = to_epoch(event["scheduled_end"])
        earliest(facts, "scheduled_at", ts)
    elif kind == "outage.started":
        earliest(facts, "started_at", ts)
    elif kind == "outage.notice_published":
        earliest(facts, "first_notice_at", ts)
    elif kind in ("outage.restored", "outage.cancelled"):
        earliest(facts, "ended_at", ts)
        facts["end"] = "restored" if kind == "outage.restored" else "cancelled"


def derive(facts: dict) -> list[tuple[str, dict]]:
    """Feed the feeder (sustained outages) and the district (outages started, customers out)."""
    out = []
    oid, district, feeder = facts["outage_id"], facts.get("district_id"), facts.get("feeder_id")
    started, ended = facts.get("started_at"), facts.get("ended_at")
    if started is not None and district and once(facts, "started"):
        out.append((f"district:{district}", {
            "type": "derived.outage_started", "event_id": f"outage:{oid}:started", "ts": started,
            "outage_id": oid, "district_id": district, "kind": facts.get("kind"),
            "customers_affected": facts.get("customers_affected") or 0,
        }))
    if (started is not None and ended is not None and feeder and ended - started > SUSTAINED_SECONDS
            and facts.get("end") == "restored" and once(facts, "sustained")):
        out.append((f"feeder:{feeder}", {
            "type": "derived.outage_sustained", "event_id": f"outage:{oid}:sustained", "ts": ended,
            "outage_id": oid, "feeder_id": feeder, "district_id": district,
            "minutes": (ended - started) / 60.0,
        }))
    return out
