"""outage.notice_late: an unplanned outage has no published notice yet.

No published limit was found for unplanned outages; 15 minutes is a heuristic
default, kept configurable. If the outage ends (restored or cancelled) before
any notice, the warning resolves then: the notice can no longer be on time and
the clock would otherwise run forever; the resolved message says so.
"""

from __future__ import annotations

from pydantic import Field

from ..warning_state import Transition
from .base import MIN, DeadlineRule, RuleParams, SeverityMap, offsets, scope_of


class Params(RuleParams):
    minutes: SeverityMap = Field(default_factory=lambda: {"yellow": 10.0, "orange": 15.0, "red": 30.0})


class OutageNoticeLate(DeadlineRule):
    rule_id = "outage.notice_late"
    sources = {  # parameter -> where its default comes from
        "minutes": "heuristic: no published limit for publishing unplanned outage information was found",
    }
    category = "coordination"
    subject = "outage"
    metric = "minutes_without_notice"
    Params = Params

    def clock(self, facts):
        start = facts.get("started_at")
        if start is None or facts.get("kind") != "unplanned":
            return None
        ends = [t for t in (facts.get("first_notice_at"), facts.get("ended_at")) if t is not None]
        return start, (max(min(ends), start) if ends else None)

    def deadlines(self, facts, params: Params):
        return offsets(params.minutes, MIN)

    def identity(self, facts):
        return {"outage_id": facts["outage_id"]}

    def scope(self, facts):
        return scope_of(facts, ("outage_id", "district_id", "feeder_id"))

    def summaries(self, facts, t: Transition):
        oid, district = facts["outage_id"], facts.get("district_id", "?")
        customers = facts.get("customers_affected")
        who = f", {customers} customers" if customers is not None else ""
        minutes = round(t.value)
        if t.kind == "resolved":
            if facts.get("first_notice_at") is None:
                return (
                    f"Outage {oid} ({district}) ended after {minutes} min with no notice published.",
                    f"停电{oid}（{district}）已结束，{minutes}分钟内始终未发布停电信息。",
                )
            return (
                f"Notice for outage {oid} ({district}) published after {minutes} min.",
                f"停电{oid}（{district}）停电信息已发布，用时{minutes}分钟。",
            )
        return (
            f"Unplanned outage {oid} ({district}{who}) has no public notice {minutes} min after start; "
            f"threshold {round(t.threshold)} min. Publish the notice now.",
            f"停电{oid}（{district}）故障停电{minutes}分钟仍未发布停电信息（阈值{round(t.threshold)}分钟），请立即发布。",
        )
