"""satisfaction.low and satisfaction.low_staff: customers rate the service poorly.

Mean survey score (1-5) over the last 7 days, moved every 5 minutes, with at
least 20 responses; yellow below 4.0, orange below 3.5 (heuristic). A firing
warning clears only at 4.2 or more, so a mean hovering around 4.0 does not
flap; orange de-escalates to yellow at 3.7 (the same 0.2 margin, our choice).
Too few responses clears the warning rather than leaving it stale.

The rule catalogue keys this rule by district or staff. A rule has one subject kind,
so these are two rules with their own configuration entries:
`satisfaction.low` (district) and `satisfaction.low_staff` (staff member,
surveys that name them). They share everything but subject and wording.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ..warning_state import Transition
from ..windows import Mean
from .base import Levels, WindowParams, WindowRule, scope_of

EVIDENCE_KEPT = 20


class Params(WindowParams):
    window_minutes: float = Field(7 * 1440.0, gt=0)
    step_minutes: float = Field(5.0, gt=0)
    min_samples: int = Field(20, ge=1)
    raise_: Levels = Field(default_factory=lambda: {"yellow": 4.0, "orange": 3.5}, alias="raise")
    clear: Levels = Field(default_factory=lambda: {"yellow": 4.2, "orange": 3.7})


class SatisfactionLow(WindowRule):
    rule_id = "satisfaction.low"
    sources = {  # parameter -> where its default comes from
        "raise": "heuristic (no published figure) (scores of 5)",
        "clear": "heuristic (no published figure): 0.2 above the raise levels (hysteresis)",
        "min_samples": "heuristic (no published figure)",
    }
    category = "staff_conduct"
    subject = "district"
    metric = "mean_survey_score"
    unit = "score"
    observes = frozenset({"survey.completed"})
    above = False  # warn when the score is low
    strict = True  # "below 4.0"
    key: ClassVar[str] = "district_id"
    Params = Params

    def aggregation(self, params):
        return Mean

    def sample(self, facts, event):
        return float(event["score"]) if event["type"] == "survey.completed" else None

    def observe(self, facts, rstate, event, ts, params) -> None:
        # WindowRule.observe, plus the ids of the surveys counted (the evidence).
        v = self.sample(facts, event)
        if v is None:
            return
        w = params.window()
        rstate.setdefault("w", w.new_state())
        if w.add(rstate["w"], Mean, ts, v):
            ids = rstate.setdefault("ids", [])
            ids.append([ts, event["event_id"]])
            ids.sort()
            del ids[:-EVIDENCE_KEPT]

    def evidence(self, facts, rstate, at) -> list[str]:
        return [i for ts, i in rstate.get("ids", []) if ts <= at]

    def identity(self, facts):
        return {self.key: facts[self.key]}

    def scope(self, facts):
        return scope_of(facts, ("district_id",))

    def who(self, facts) -> tuple[str, str]:
        d = facts["district_id"]
        return f"district {d}", f"{d}供电区"

    def summaries(self, facts, t: Transition):
        en, zh = self.who(facts)
        score, th = f"{t.value:.2f}", f"{t.threshold:.1f}"
        if t.kind == "resolved":
            return (
                f"Survey scores for {en} recovered: mean {score} over the review window.",
                f"{zh}满意度回访均分已回升至{score}分。",
            )
        return (
            f"Low satisfaction in {en}: mean survey score {score}, below {th} of 5. "
            f"Review low-score surveys, call back the customers and coach the staff involved.",
            f"{zh}满意度回访均分{score}分，低于{th}分。请复核低分回访、回访客户并对相关人员进行辅导。",
        )


class SatisfactionLowStaff(SatisfactionLow):
    rule_id = "satisfaction.low_staff"
    subject = "staff"
    key = "staff_id"

    def scope(self, facts):
        return scope_of(facts, ("staff_id", "district_id"))

    def who(self, facts) -> tuple[str, str]:
        s, d = facts["staff_id"], facts.get("district_id", "?")
        return f"staff {s} ({d})", f"员工{s}（{d}）"
