"""complaints.billing_errors: a district's bills keep drawing billing-error complaints.

Complaints of category `billing_error` in the last 7 days; yellow at 5,
orange at 10 (heuristic). A staff-skill risk: meter reading, tariff or
billing-run mistakes. Event-driven like complaints.staff_repeat (shared
RecentEventsRule): raised at the exact time of the complaint that reaches
the threshold, resolved when enough of them are older than 7 days.
"""

from __future__ import annotations

from pydantic import Field

from ..warning_state import Transition
from .base import SeverityMap, scope_of
from .complaints_staff_repeat import RecentEventsRule, RecentParams


class Params(RecentParams):
    window_days: float = Field(7.0, gt=0)
    raise_: SeverityMap = Field(default_factory=lambda: {"yellow": 5.0, "orange": 10.0}, alias="raise")


class ComplaintsBillingErrors(RecentEventsRule):
    rule_id = "complaints.billing_errors"
    sources = {  # parameter -> where its default comes from
        "raise": "heuristic (no published figure)",
        "window_days": "heuristic (no published figure)",
    }
    category = "staff_skill"
    subject = "district"
    metric = "billing_error_complaints"
    unit = "complaints"
    observes = frozenset({"complaint.received"})
    Params = Params

    def label(self, facts, event, params) -> str | None:
        if event["type"] == "complaint.received" and event.get("category") == "billing_error":
            return "billing_error"
        return None

    def identity(self, facts):
        return {"district_id": facts["district_id"]}

    def scope(self, facts):
        return scope_of(facts, ("district_id",))

    def summaries(self, facts, t: Transition):
        d, n, th = facts["district_id"], round(t.value), round(t.threshold)
        if t.kind == "resolved":
            return (
                f"Billing-error complaints in district {d} down to {n} in the review window (below {th}).",
                f"{d}供电区统计期内电费差错投诉已降至{n}件（低于{th}件）。",
            )
        return (
            f"District {d}: {n} billing-error complaints in the review window (threshold {th}). "
            f"Check the last billing run and meter readings; correct and refund affected bills.",
            f"{d}供电区统计期内电费差错投诉{n}件（阈值{th}件），请核查近期抄表及账单，纠错并退补。",
        )
