"""repair.sla_breach_ratio: the share of a district's tickets whose crew came late, over 24 h."""

from __future__ import annotations

from pydantic import Field

from ..warning_state import Transition
from ..windows import Ratio
from .base import AreaLimits, WindowParams, WindowRule


class Params(WindowParams):
    limit_minutes: AreaLimits = Field(default_factory=lambda: AreaLimits(urban=45, rural=90, remote=120))


class RepairSlaBreachRatio(WindowRule):
    rule_id = "repair.sla_breach_ratio"
    sources = {  # parameter -> where its default comes from
        "limit_minutes": (
            "SGCC ten service commitments: crew on site within 45 min urban, 90 min rural, 120 min remote (China "
            "Southern Grid the same)"
        ),
        "raise": "heuristic (no published figure)",
    }
    category = "coordination"
    subject = "district"
    metric = "late_arrival_ratio"
    unit = "ratio"
    observes = frozenset({"derived.ticket_arrival"})
    Params = Params

    def aggregation(self, params):
        return Ratio

    def sample_with(self, facts, event, params: Params):
        # Late against the ticket's own area, not the district's: a district can mix areas.
        return event["minutes"] > params.limit_minutes.of(event.get("area_type"))

    def identity(self, facts):
        return {"district_id": facts["district_id"]}

    def summaries(self, facts, t: Transition):
        d = facts["district_id"]
        if t.kind == "resolved":
            return (f"Late crew arrivals in {d} down to {t.value:.0%} over 24 h.",
                    f"{d}近24小时抢修超时率降至{t.value:.0%}。")
        return (f"{t.value:.0%} of crews in {d} arrived late over 24 h (threshold {t.threshold:.0%}). "
                f"Review crew rosters and dispatch.",
                f"{d}近24小时抢修超时率{t.value:.0%}（阈值{t.threshold:.0%}），请检查抢修排班与派单。")
