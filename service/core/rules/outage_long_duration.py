"""outage.long_duration: an outage is still not restored.

Ofgem's guaranteed standard for restoring supply in normal weather is 12 h;
24 h is the provincial practice for a single customer. Both apply to every
outage kind once it has started.
"""

from __future__ import annotations

from pydantic import Field

from ..warning_state import Transition
from .base import HOUR, DeadlineRule, RuleParams, SeverityMap, offsets, scope_of


class Params(RuleParams):
    hours: SeverityMap = Field(default_factory=lambda: {"orange": 12.0, "red": 24.0})


class OutageLongDuration(DeadlineRule):
    rule_id = "outage.long_duration"
    sources = {  # parameter -> where its default comes from
        "hours": (
            "Ofgem Guaranteed Standards of Performance, reg. 5: 12 h in normal weather; 24 h for one customer "
            "(provincial practice)"
        ),
    }
    category = "follow_up"
    subject = "outage"
    metric = "hours_without_restoration"
    moved_by = frozenset({"outage.started", "outage.restored", "outage.cancelled"})  # what sets its clock and deadlines
    unit = "h"
    unit_seconds = HOUR
    Params = Params

    def clock(self, facts):
        start = facts.get("started_at")
        return None if start is None else (start, facts.get("ended_at"))

    def deadlines(self, facts, params: Params):
        return offsets(params.hours, HOUR)

    def identity(self, facts):
        return {"outage_id": facts["outage_id"]}

    def scope(self, facts):
        return scope_of(facts, ("outage_id", "district_id", "feeder_id"))

    def summaries(self, facts, t: Transition):
        oid, district = facts["outage_id"], facts.get("district_id", "?")
        customers = facts.get("customers_affected")
        who = f", {customers} customers" if customers is not None else ""
        if t.kind == "resolved":
            return (f"Outage {oid} ({district}) ended after {t.value:.1f} h.",
                    f"停电{oid}（{district}）已恢复供电，历时{t.value:.1f}小时。")
        return (f"Outage {oid} ({district}{who}) still not restored after {t.value:.0f} h; threshold "
                f"{t.threshold:.0f} h. Escalate to the emergency plan and inform customers of the new estimate.",
                f"停电{oid}（{district}）已持续{t.value:.0f}小时未恢复（阈值{t.threshold:.0f}小时），请启动应急预案并告知客户预计恢复时间。")
