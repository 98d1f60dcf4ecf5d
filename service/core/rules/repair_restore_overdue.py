"""repair.restore_overdue: the crew is on site but power is not back.

Limits after arrival: 3 h urban, 4 h rural (SGCC commitments), 6 h remote
(heuristic: no published figure). Red at 12 h whatever the area (Ofgem's
normal-weather restoration standard).
"""

from __future__ import annotations

from pydantic import Field

from ..deadlines import Deadline
from ..warning_state import Transition
from ..worked import worked_out
from .base import HOUR, AreaLimits, DeadlineRule, RuleParams, SeverityMap, scope_of


class Params(RuleParams):
    limit_hours: AreaLimits = Field(default_factory=lambda: AreaLimits(urban=3, rural=4, remote=6))
    levels: SeverityMap = Field(default_factory=lambda: {"yellow": 0.8, "orange": 1.0})
    red_hours: float = Field(12.0, gt=0)


def _deadlines(params: Params, area_type: str | None) -> list[Deadline]:
    limit = params.limit_hours.of(area_type) * HOUR
    return [Deadline(s, f * limit) for s, f in params.levels.items()] + [Deadline("red", params.red_hours * HOUR)]


class RepairRestoreOverdue(DeadlineRule):
    rule_id = "repair.restore_overdue"
    sources = {  # parameter -> where its default comes from
        "limit_hours": (
            "SGCC service commitments: power restored within 3 h urban, 4 h rural after arrival (CSG: 4 h / 5 h); "
            "remote 6 h is a heuristic"
        ),
        "levels": "heuristic (no published figure)",
        "red_hours": "Ofgem Guaranteed Standards of Performance, reg. 5: supply restored within 12 h in normal weather",
    }
    category = "coordination"
    subject = "ticket"
    metric = "minutes_on_site_without_restoration"
    moved_by = frozenset({"ticket.created", "ticket.arrived", "ticket.completed"})  # what sets its clock and deadlines
    Params = Params

    def clock(self, facts):
        start = facts.get("arrived_at")
        return None if start is None else (start, facts.get("completed_at"))

    def deadlines(self, facts, params: Params):
        # one list per parameters and area type: callers read it, never change it
        return worked_out(params, facts.get("area_type"), _deadlines)

    def identity(self, facts):
        return {"ticket_id": facts["ticket_id"]}

    def scope(self, facts):
        return scope_of(facts, ("ticket_id", "district_id", "crew_id"))

    def summaries(self, facts, t: Transition):
        tid, district = facts["ticket_id"], facts.get("district_id", "?")
        hours = t.value / 60
        if t.kind == "resolved":
            return (f"Ticket {tid} ({district}) completed {hours:.1f} h after the crew arrived.",
                    f"工单{tid}（{district}）已修复，到场后用时{hours:.1f}小时。")
        return (f"Ticket {tid} ({district}): crew on site {hours:.1f} h, power not restored; "
                f"threshold {t.threshold / 60:.1f} h. Send support or a generator.",
                f"工单{tid}（{district}）抢修人员到场{hours:.1f}小时仍未恢复供电（阈值{t.threshold / 60:.1f}小时），请增派支援或应急电源。")
