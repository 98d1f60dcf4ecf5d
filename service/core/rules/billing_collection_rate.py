"""billing.collection_rate: share of a billing period's bills a district has collected.

The district receives `derived.billed` and `derived.paid` from its accounts
and keeps, per period, the amount billed (integer cents), the latest due
date and the amount paid per payment day. A period is decided once, at its
latest due date + `days_after_due` (00:00 UTC), counting payments made
before that moment. A payment made later is not part of the period, whether
it arrives before or after the decision; one made in time but reported after
the period was decided does not change the decision either, and is counted as
late. Every
decision moves the district's one warning: a bad period raises or escalates
it, a good later period resolves it. Thresholds are heuristic.

A period keeps at most PAID_DAYS_KEPT payment days: beyond, the earliest day's
amount moves to the next day (a payment can then only seem later than it
was: the period may read as less collected, never as more).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from pydantic import ConfigDict, Field, model_validator

from ..subjects.account import cents
from ..timefmt import date_to_epoch, to_rfc3339
from ..warning_state import Decision, Decisions, Transition
from .base import Evaluation, Levels, Rule, RuleParams, scope_of, target_severity
from .billing_flagged_arrears import check_levels, cny, cny_zh

DAY = 86400.0
DECIDED_KEPT = 12  # decided period names remembered, to recognise their late events
PENDING_KEPT = 6  # open periods kept; older ones (payments whose bills never came) are dropped
EVIDENCE = 20
PAID_DAYS_KEPT = 400


class Params(RuleParams):
    days_after_due: float = Field(10.0, ge=0)
    # Ratio strictly below which each severity is reached.
    raise_: Levels = Field(default_factory=lambda: {"yellow": 0.95, "orange": 0.90}, alias="raise")
    clear: Levels = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _check(self):
        check_levels(self.raise_, self.clear)
        if any(not 0 <= v <= 1 for v in (*self.raise_.values(), *self.clear.values())):
            raise ValueError("thresholds are ratios between 0 and 1")
        return self


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


class CollectionRate(Rule):
    threshold = "exceeded: raised when the collected share is < the raise level on the decision day"
    rule_id = "billing.collection_rate"
    sources = {  # parameter -> where its default comes from
        "raise": "heuristic (no published figure)",
        "days_after_due": "heuristic (no published figure)",
    }
    category = "fee_recovery"
    subject = "district"
    metric = "collection_rate"
    unit = "ratio"
    own_clock = False  # accounts' events reach the district out of step: only the clock decides a period
    observes = frozenset({"derived.billed", "derived.paid"})
    Params = Params

    def observe(self, facts, rstate, event, ts, params) -> None:
        period = event["period"]
        rstate.setdefault("periods", {})
        rstate.setdefault("decided", [])
        rstate.setdefault("w", {"late": 0})  # the engine exports `w.late` as the late-events metric
        if period in rstate["decided"]:
            cutoff = rstate.get("cutoffs", {}).get(period)
            if not (event["type"] == "derived.paid" and cutoff is not None and _day(ts) >= cutoff):
                rstate["w"]["late"] += 1  # in time for the period, but it has been decided
            return
        p = rstate["periods"].setdefault(period, {"billed": 0, "bills": 0, "due": None, "paid": {}, "evidence": []})
        if event["type"] == "derived.billed":
            p["billed"] += cents(event["amount"])
            p["bills"] += 1
            p["due"] = max(p["due"] or event["due_date"], event["due_date"])
            p["last"] = max(p.get("last", ts), ts)  # the decision is stamped no earlier than its bills
            if len(p["evidence"]) < EVIDENCE:
                p["evidence"].append(event["event_id"])
        else:
            day = _day(ts)
            p["paid"][day] = p["paid"].get(day, 0) + cents(event["amount"])
            if len(p["paid"]) > PAID_DAYS_KEPT:
                first, second = sorted(p["paid"])[:2]
                p["paid"][second] += p["paid"].pop(first)
        for old in sorted(rstate["periods"])[:-PENDING_KEPT]:
            del rstate["periods"][old]
            rstate["w"]["late"] += 1

    def decide_at(self, p: dict, params: Params) -> float | None:
        return date_to_epoch(p["due"]) + params.days_after_due * DAY if p["due"] else None

    def quiet_until(self, facts, rstate, ws, params, evaluation) -> float | None:
        # evaluate decides a period at its decision time, nothing before
        return min((self.decide_at(p, params) for p in rstate.get("periods", {}).values() if p["due"]),
                   default=math.inf)

    def evaluate(self, facts, rstate, ws, now, params: Params) -> Decisions[Evaluation]:
        periods = rstate.get("periods", {})
        due = sorted((self.decide_at(p, params), name) for name, p in periods.items() if p["due"])
        for at, name in due:
            if at > now:
                break
            p = periods.pop(name)
            cutoff = _day(at)
            paid = sum(c for day, c in p["paid"].items() if day < cutoff)
            ratio = paid / p["billed"] if p["billed"] else 1.0
            current = ws.severity if ws.status == "firing" else None
            severity, th = target_severity(ratio, current, params.raise_, params.clear, above=False, strict=True)
            stamp = max(at, p.get("last", at), ws.changed_at if ws.changed_at is not None else at)
            t = yield Decision(severity, ratio, th, stamp)
            rstate["decided"] = (rstate["decided"] + [name])[-DECIDED_KEPT:]
            cutoffs = rstate.setdefault("cutoffs", {})
            cutoffs[name] = cutoff
            for old in [k for k in cutoffs if k not in rstate["decided"]]:
                del cutoffs[old]
            rstate["evidence"] = p["evidence"]
            if t is not None:
                # What summaries() needs to name the period; kept small.
                notes = facts.setdefault("collection_rate", {})
                notes[repr(t.at)] = {"period": name, "billed": p["billed"], "paid": paid, "by": at}
                for old in sorted(notes, key=float)[:-4]:
                    del notes[old]
        pending = [self.decide_at(p, params) for p in periods.values() if p["due"]]
        running = bool(periods) or ws.status != "inactive"
        return Evaluation(wake_at=min(pending) if pending else None, running=running)

    def identity(self, facts):
        return {"district_id": facts["district_id"]}

    def scope(self, facts):
        return scope_of(facts, ("district_id",))

    def evidence(self, facts, rstate, at):
        return list(rstate.get("evidence", []))[:EVIDENCE]

    def window_of(self, t: Transition, params: Params):
        return None

    def summaries(self, facts, t: Transition):
        district = facts["district_id"]
        note = facts.get("collection_rate", {}).get(repr(t.at), {})
        period = note.get("period", "?")
        paid, billed = note.get("paid", 0), note.get("billed", 0)
        pct, th = f"{t.value * 100:.1f}", f"{t.threshold * 100:.0f}"
        day = to_rfc3339(note.get("by", t.at))[:10]  # the cutoff counted to (the change can be stamped later)
        if t.kind == "resolved":
            return (
                f"District {district} collected {pct} % of period {period} bills by {day}; collection back to normal.",
                f"{district}供电区域{period}期电费截至{day}回收率{pct}%，已恢复正常。",
            )
        return (
            f"District {district} collected {pct} % of period {period} bills by {day} "
            f"({cny(paid)} of {cny(billed)} CNY), below {th} %. Review the arrears list and assign collectors.",
            f"{district}供电区域{period}期电费截至{day}回收率{pct}%（{cny_zh(paid)}/{cny_zh(billed)}元），"
            f"低于{th}%，请核查欠费清单并安排催收。",
        )
