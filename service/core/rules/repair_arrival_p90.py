"""repair.arrival_p90: crews in a district are arriving late as a rule, not by exception.

p90 of crew arrival minutes over a sliding hour, against the area limit of
the service commitments. Thresholds are fractions of the district's limit:
orange above it, cleared only below 90 % of it so a p90 hovering at the
limit does not flap.
"""

from __future__ import annotations

from pydantic import Field

from ..warning_state import Transition
from ..windows import Quantile
from .base import AreaLimits, WindowParams, WindowRule


class Params(WindowParams):
    limit_minutes: AreaLimits = Field(default_factory=lambda: AreaLimits(urban=45, rural=90, remote=120))
    quantile: float = Field(0.9, gt=0, lt=1)


class RepairArrivalP90(WindowRule):
    rule_id = "repair.arrival_p90"
    sources = {  # parameter -> where its default comes from
        "limit_minutes": (
            "SGCC ten service commitments: crew on site within 45 min urban, 90 min rural, 120 min remote (China "
            "Southern Grid the same)"
        ),
        "raise": "SGCC ten service commitments: the arrival limit itself (fraction 1.0 of it)",
        "clear": "heuristic (no published figure): 90 % of the limit, so a p90 hovering at the limit does not flap",
    }
    category = "coordination"
    subject = "district"
    metric = "p90_arrival_minutes"
    observes = frozenset({"derived.ticket_arrival"})
    Params = Params

    def aggregation(self, params: Params):
        return Quantile(params.quantile)

    def sample(self, facts, event):
        return event["minutes"]

    def levels(self, facts, params: Params):
        limit = params.limit_minutes.of(facts.get("area_type"))
        return ({s: f * limit for s, f in params.raise_.items()},
                {s: f * limit for s, f in params.clear.items()})

    def identity(self, facts):
        return {"district_id": facts["district_id"]}

    def summaries(self, facts, t: Transition):
        d = facts["district_id"]
        if t.kind == "resolved":
            return (f"Crew arrivals in {d} back to normal: p90 {t.value:.0f} min.",
                    f"{d}抢修到达时间恢复正常：90%分位{t.value:.0f}分钟。")
        return (f"Crews in {d} arrive late: p90 {t.value:.0f} min over the last hour, limit {t.threshold:.0f} min. "
                f"Move crews in from neighbouring districts.",
                f"{d}近一小时抢修到达时间90%分位{t.value:.0f}分钟，超过时限{t.threshold:.0f}分钟，请从邻近区域调配抢修力量。")
