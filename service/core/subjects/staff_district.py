"""Aggregate subjects (district, feeder, staff): facts are only their context.

Their statistics live in the window state of each rule, not in the facts.
"""

from __future__ import annotations

from .common import context


def fold(facts: dict, event: dict, ts: float) -> None:
    context(facts, event, ("district_id", "feeder_id", "staff_id", "area_type"))
