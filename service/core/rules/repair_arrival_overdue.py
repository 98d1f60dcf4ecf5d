"""repair.arrival_overdue: a repair crew has not arrived within the area's limit.

Limits are the SGCC / China Southern Grid service commitments (45 min urban,
90 rural, 120 remote). Severities are fractions of the limit; urgent tickets
(safety hazards, hospitals) go red as soon as the limit passes.
"""

from __future__ import annotations

from pydantic import Field

from ..subjects.ticket import arrival_time
from ..warning_state import Transition
from .base import AreaLimits, DeadlineRule, RuleParams, SeverityMap, offsets, scope_of


class Params(RuleParams):
    limit_minutes: AreaLimits = Field(default_factory=lambda: AreaLimits(urban=45, rural=90, remote=120))
    levels: SeverityMap = Field(default_factory=lambda: {"yellow": 0.8, "orange": 1.0, "red": 2.0})
    urgent_levels: SeverityMap = Field(default_factory=lambda: {"yellow": 0.8, "red": 1.0})


class RepairArrivalOverdue(DeadlineRule):
    rule_id = "repair.arrival_overdue"
    sources = {  # parameter -> where its default comes from
        "limit_minutes": (
            "SGCC ten service commitments: crew on site within 45 min urban, 90 min rural, 120 min remote (China "
            "Southern Grid the same)"
        ),
        "levels": "heuristic (no published figure): yellow at 80 %, orange at 100 %, red at 200 % of the limit",
        "urgent_levels": "heuristic (no published figure): urgent tickets go red at 100 % of the limit",
    }
    category = "coordination"
    subject = "ticket"
    metric = "minutes_without_arrival"
    moved_by = frozenset({"ticket.created", "ticket.arrived", "ticket.completed"})  # what sets its clock and deadlines
    Params = Params

    def clock(self, facts):
        start = facts.get("created_at")
        if start is None:
            return None
        return start, arrival_time(facts)

    def deadlines(self, facts, params: Params):
        limit = params.limit_minutes.of(facts.get("area_type")) * 60.0
        levels = params.urgent_levels if facts.get("priority") == "urgent" else params.levels
        return offsets(levels, limit)

    def identity(self, facts):
        return {"ticket_id": facts["ticket_id"]}

    def scope(self, facts):
        return scope_of(facts, ("ticket_id", "district_id", "crew_id"))

    def summaries(self, facts, t: Transition):
        tid, district = facts["ticket_id"], facts.get("district_id", "?")
        area = facts.get("area_type") or "urban"
        minutes, limit = round(t.value), round(t.threshold)
        if t.kind == "resolved":
            return (
                f"Crew arrived at ticket {tid} ({district}) after {minutes} min.",
                f"工单{tid}（{district}）抢修人员已到达现场，用时{minutes}分钟。",
            )
        urgent = " urgent" if facts.get("priority") == "urgent" else ""
        return (
            f"No crew at{urgent} ticket {tid} ({district}, {area}) {minutes} min after report; "
            f"threshold {limit} min. Dispatch or reassign a crew.",
            f"工单{tid}（{district}）报修{minutes}分钟抢修人员仍未到达现场（阈值{limit}分钟），请立即派单或改派。",
        )
