"""followup.missing: no return visit to the customer after a completed repair.

24 h and 72 h are heuristics (no published figure for the follow-up visit).
"""

from __future__ import annotations

from pydantic import Field

from ..warning_state import Transition
from .base import HOUR, DeadlineRule, RuleParams, SeverityMap, offsets, scope_of


class Params(RuleParams):
    hours: SeverityMap = Field(default_factory=lambda: {"yellow": 24.0, "orange": 72.0})


class FollowupMissing(DeadlineRule):
    rule_id = "followup.missing"
    sources = {  # parameter -> where its default comes from
        "hours": "heuristic (no published figure): no published limit for the follow-up visit after a repair",
    }
    category = "follow_up"
    subject = "ticket"
    metric = "hours_without_follow_up"
    moved_by = frozenset({"ticket.completed", "ticket.followed_up"})  # what sets its clock and deadlines
    unit = "h"
    unit_seconds = HOUR
    Params = Params

    def clock(self, facts):
        start = facts.get("completed_at")
        return None if start is None else (start, facts.get("followed_up_at"))

    def deadlines(self, facts, params: Params):
        return offsets(params.hours, HOUR)

    def identity(self, facts):
        return {"ticket_id": facts["ticket_id"]}

    def scope(self, facts):
        return scope_of(facts, ("ticket_id", "district_id", "crew_id"))

    def summaries(self, facts, t: Transition):
        tid, district = facts["ticket_id"], facts.get("district_id", "?")
        if t.kind == "resolved":
            return (f"Ticket {tid} ({district}) followed up {t.value:.0f} h after completion.",
                    f"工单{tid}（{district}）已回访，完工后{t.value:.0f}小时。")
        return (f"Ticket {tid} ({district}) completed {t.value:.0f} h ago without a follow-up visit; "
                f"threshold {t.threshold:.0f} h. Call the customer back.",
                f"工单{tid}（{district}）完工{t.value:.0f}小时仍未回访（阈值{t.threshold:.0f}小时），请安排回访。")
