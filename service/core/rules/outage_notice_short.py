"""outage.notice_short: a planned or temporary outage without its legal notice.

Regulations on Electricity Supply and Use art. 28: customers get at least 7
days' notice of planned work and 24 h of temporary (maintenance) work. Early
warning: yellow as soon as the outage is inside its notice period with no
notice published; orange when the notice comes with too little lead; red if
the outage starts with no notice at all (at the start event, or at the
scheduled start when no start event has come). The warning resolves when the
outage ends or is cancelled: until then the customers are still affected.
"""

from __future__ import annotations

from pydantic import Field

from ..deadlines import Point, replaying
from ..warning_state import Decisions, Transition
from .base import HOUR, Evaluation, Rule, RuleParams, scope_of


class Params(RuleParams):
    planned_notice_hours: float = Field(7 * 24.0, gt=0)
    temporary_notice_hours: float = Field(24.0, gt=0)


class OutageNoticeShort(Rule):
    threshold = ("reached: yellow at the moment the outage is its notice period away with no notice, orange at "
                 "a notice with less lead than required, red at the start with no notice")
    from_facts = True
    rule_id = "outage.notice_short"
    sources = {  # parameter -> where its default comes from
        "planned_notice_hours": (
            "Regulations on Electricity Supply and Use art. 28; Electricity Supply Supervision Measures art. 13: "
            "planned outages announced at least 7 days ahead"
        ),
        "temporary_notice_hours": "same regulations: temporary (maintenance) outages announced at least 24 h ahead",
    }
    category = "coordination"
    subject = "outage"
    metric = "notice_lead_hours"
    unit = "h"
    Params = Params

    def points(self, facts: dict, params: Params) -> list[Point]:
        kind, start = facts.get("kind"), facts.get("scheduled_start")
        if kind not in ("planned", "temporary") or start is None:
            return []
        required = (params.planned_notice_hours if kind == "planned" else params.temporary_notice_hours) * HOUR
        notice, started, ended = facts.get("first_notice_at"), facts.get("started_at"), facts.get("ended_at")
        begins = started if started is not None else start
        need = required / HOUR
        points = []
        # inside the notice period, but not before the service could know of the outage
        period = max(start - required, facts.get("scheduled_at") or start - required)
        if notice is None or notice > period:
            points.append(Point(period, "yellow", need, need))
        if notice is not None and notice <= begins and start - notice < required:
            points.append(Point(notice, "orange", (start - notice) / HOUR, need))
        if notice is None or notice > begins:
            points.append(Point(begins, "red", 0.0, need))
        if ended is not None:
            lead = max(start - notice, 0.0) / HOUR if notice is not None else 0.0
            points = [p for p in points if p.at < ended] + [Point(ended, None, lead, need)]
        return points

    def evaluate(self, facts, rstate, ws, now, params) -> Decisions[Evaluation]:
        points = self.points(facts, params)
        if not points:
            return Evaluation()
        wake = yield from replaying(ws, points, now)
        return Evaluation(wake_at=wake, running=wake is not None or ws.status != "inactive")

    def identity(self, facts):
        return {"outage_id": facts["outage_id"]}

    def scope(self, facts):
        return scope_of(facts, ("outage_id", "district_id", "feeder_id"))

    def summaries(self, facts, t: Transition):
        oid, district, kind = facts["outage_id"], facts.get("district_id", "?"), facts.get("kind")
        kind_zh = "计划" if kind == "planned" else "临时"
        need = t.threshold
        if t.kind == "resolved":
            return (f"{kind.capitalize()} outage {oid} ({district}) is over; notice lead was {t.value:.1f} h of {need:.0f} h required.",
                    f"{kind_zh}停电{oid}（{district}）已结束，提前通知{t.value:.1f}小时（应提前{need:.0f}小时）。")
        if t.severity == "yellow":
            return (f"{kind.capitalize()} outage {oid} ({district}) is inside its {need:.0f} h notice period with no notice. Publish it now.",
                    f"{kind_zh}停电{oid}（{district}）已进入{need:.0f}小时通知期仍未发布停电通知，请立即发布。")
        if t.severity == "orange":
            return (f"Notice for {kind} outage {oid} ({district}) came {t.value:.1f} h ahead, {need:.0f} h required. Consider rescheduling.",
                    f"{kind_zh}停电{oid}（{district}）仅提前{t.value:.1f}小时通知（应提前{need:.0f}小时），请考虑改期。")
        return (f"{kind.capitalize()} outage {oid} ({district}) started without any notice. Notify customers and the hotline now.",
                f"{kind_zh}停电{oid}（{district}）未发布任何通知即已停电，请立即通知客户并告知客服热线。")
