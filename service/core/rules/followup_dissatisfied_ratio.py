"""followup.dissatisfied_ratio: customers unhappy at the follow-up visit, share over 7 days."""

from __future__ import annotations

from ..warning_state import Transition
from ..windows import Ratio
from .base import WindowParams, WindowRule


class FollowupDissatisfiedRatio(WindowRule):
    rule_id = "followup.dissatisfied_ratio"
    sources = {  # parameter -> where its default comes from
        "raise": "heuristic (no published figure)",
        "min_samples": "heuristic (no published figure)",
    }
    category = "follow_up"
    subject = "district"
    metric = "dissatisfied_ratio"
    unit = "ratio"
    observes = frozenset({"derived.ticket_followed_up"})
    Params = WindowParams

    def aggregation(self, params):
        return Ratio

    def sample(self, facts, event):
        return not event["satisfied"]

    def identity(self, facts):
        return {"district_id": facts["district_id"]}

    def summaries(self, facts, t: Transition):
        d = facts["district_id"]
        if t.kind == "resolved":
            return (f"Dissatisfied follow-ups in {d} down to {t.value:.0%} over 7 days.",
                    f"{d}近7天回访不满意率降至{t.value:.0%}。")
        return (f"{t.value:.0%} of follow-up visits in {d} found the customer dissatisfied over 7 days "
                f"(threshold {t.threshold:.0%}). Review the repairs behind them.",
                f"{d}近7天回访不满意率{t.value:.0%}（阈值{t.threshold:.0%}），请复查相关抢修工单。")
