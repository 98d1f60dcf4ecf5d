"""The rule catalogue: one small module per rule, registered here by id."""

from __future__ import annotations

from .base import Rule
from .outage_notice_late import OutageNoticeLate
from .repair_arrival_overdue import RepairArrivalOverdue

RULES: dict[str, type[Rule]] = {
    r.rule_id: r for r in (RepairArrivalOverdue, OutageNoticeLate)
}

__all__ = ["RULES", "Rule"]
