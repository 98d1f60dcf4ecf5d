"""outage.frequent_feeder: a feeder that keeps failing.

Sustained outages (longer than 5 minutes, IEEE 1366) on the feeder in the
last 60 days; 3 or more yellow, 5 or more orange, as SGCC provincial
reporting buckets them. Counted when the outage is restored, because only
then is it known to be sustained.
"""

from __future__ import annotations

from ..warning_state import Transition
from ..windows import Count
from .base import WindowParams, WindowRule, scope_of


class OutageFrequentFeeder(WindowRule):
    rule_id = "outage.frequent_feeder"
    sources = {  # parameter -> where its default comes from
        "raise": (
            "SGCC provincial reporting buckets: 3-4 and 5 or more sustained outages (a sustained interruption lasts "
            "more than 5 min: IEEE 1366)"
        ),
        "window_minutes": (
            "60 days, as the SGCC provincial reporting counts frequent outages (utilities in the US use CEMI3 over "
            "12 months)"
        ),
    }
    category = "equipment"
    subject = "feeder"
    metric = "sustained_outages"
    unit = "count"
    strict = False  # "3 or more"
    observes = frozenset({"derived.outage_sustained"})
    Params = WindowParams

    def aggregation(self, params):
        return Count

    def sample(self, facts, event):
        return 1

    def identity(self, facts):
        return {"feeder_id": facts["feeder_id"]}

    def scope(self, facts):
        return scope_of(facts, ("feeder_id", "district_id"))

    def summaries(self, facts, t: Transition):
        f, d = facts["feeder_id"], facts.get("district_id", "?")
        if t.kind == "resolved":
            return (f"Feeder {f} ({d}): {t.value:.0f} sustained outages in 60 days, below threshold.",
                    f"线路{f}（{d}）近60天持续停电{t.value:.0f}次，已低于阈值。")
        return (f"Feeder {f} ({d}) had {t.value:.0f} sustained outages in 60 days (threshold {t.threshold:.0f}). "
                f"Schedule an inspection and a reliability review.",
                f"线路{f}（{d}）近60天持续停电{t.value:.0f}次（阈值{t.threshold:.0f}），请安排巡视与可靠性分析。")
