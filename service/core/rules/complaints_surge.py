"""complaints.surge: a district receives far more complaints than it usually does.

The count of the period just ended (a trailing 24 h for complaints) is
compared with the same-length periods before it (`baseline.py`); yellow at
z >= 2, orange at z >= 3 (heuristic), and never below a minimum count (5
complaints), so a quiet district's two complaints are not a surge.

Decisions:
- Trailing 24 h evaluated every hour (`step_minutes`), not calendar days: no
  time zone is needed. A count only grows while complaints arrive, so a raise
  or an escalation is decided by the complaint that brings the 24 h ending at
  the next hour boundary to its level, stamped with its time; a
  de-escalation or a clear is decided, and stamped, at the hour boundary.
- Counts live in hourly buckets kept for baseline_days + 1 days (older
  buckets are dropped as windows are decided), so the state is bounded.
- History starts when the district is first observed by the rule (any
  complaint, survey or meter alarm), and the rule cannot fire before
  `min_history_days` complete days of it (default 7); days without events in
  that history count as zero.
- Default clear levels are 0.5 below the raise levels (hysteresis); a count
  below the minimum clears the warning whatever the z.
- The warning's metric is the count, and its threshold is the count the
  severity needed (max(min count, mean + z * deviation)): a duty officer
  compares complaints, not z-scores.

Also home of SurgeRule, the count-versus-baseline machinery that
meter.alarm_surge and reliability.storm_mode share.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import Field, model_validator

from ..baseline import baseline
from ..warning_state import Decision, Decisions, Transition, WarningState
from ..windows import Count, Window, window
from .base import (MIN, DuePoints, Evaluation, Levels, Rule, WindowParams, before_lift, early_points, early_raise,
                   early_ready, forget_decided, held_until, lifts, note_latest, scope_of, target_severity,
                   wake, worked_out)

EVIDENCE_KEPT = 20
SERVICE_EVENTS = frozenset({"complaint.received", "survey.completed", "meter.alarm"})


class SurgeParams(WindowParams):
    """window_minutes is the period counted (a day, an hour); min_samples the minimum count in it."""

    window_minutes: float = Field(1440.0, gt=0)
    step_minutes: float = Field(60.0, gt=0)
    min_samples: int = Field(5, ge=1)
    raise_: Levels = Field(default_factory=lambda: {"yellow": 2.0, "orange": 3.0}, alias="raise")
    clear: Levels = Field(default_factory=lambda: {"yellow": 1.5, "orange": 2.5})
    baseline_days: float = Field(28.0, gt=0)
    min_history_days: float = Field(7.0, ge=0)
    min_deviation: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _check_baseline(self):
        if not math.isclose(self.window_minutes / self.step_minutes, round(self.window_minutes / self.step_minutes)):
            raise ValueError("window_minutes must be a multiple of step_minutes")
        if not math.isclose(self.baseline_days * 1440 / self.window_minutes,
                            round(self.baseline_days * 1440 / self.window_minutes)):
            raise ValueError("baseline_days must be a whole number of windows")
        if self.min_history_days > self.baseline_days:
            raise ValueError("min_history_days must not exceed baseline_days")
        return self

    def periods(self) -> int:
        return round(self.baseline_days * 1440 / self.window_minutes)

    def min_periods(self) -> int:
        return max(1, math.ceil(self.min_history_days * 1440 / self.window_minutes - 1e-9))

    def store(self) -> Window:
        """The buckets kept: the counted period and the baseline periods before it."""
        return worked_out(self, "store", _store)


class SurgeRule(Rule):
    """Count in the period just ended versus the subject's own history of such periods."""

    observes: ClassVar[frozenset[str]] = SERVICE_EVENTS  # every service event proves the subject is observed
    threshold = ("reached: raised when the count is >= `min_samples` and its z against the baseline is >= the "
                 "raise level; kept until z falls below the clear level or the count below `min_samples`")
    # A window rule of an aggregate subject: periods close on the partition's
    # aggregate clock, never on one event's time, or an outage started at 07:59
    # but derived on a slower partition would miss the 07:00-08:00 count.
    own_clock = False

    def counted(self, event: dict, params: Any) -> bool:
        raise NotImplementedError

    def early_value(self, event: dict) -> float:
        """What the event adds besides its count, remembered until its bucket is decided (base.note_latest)."""
        return 1.0

    def observe(self, facts, rstate, event, ts, params) -> None:
        rstate["since"] = min(rstate.get("since", ts), ts)
        rstate["last"] = max(rstate.get("last", ts), ts)
        if not self.counted(event, params):
            return
        store = params.store()
        rstate.setdefault("w", store.new_state())
        if store.add(rstate["w"], Count, ts, 1):
            note_latest(rstate, store, ts, self.early_value(event))
            ids = rstate.setdefault("ids", [])
            ids.append([ts, event["event_id"]])
            ids.sort()
            del ids[:-EVIDENCE_KEPT]

    def quiet_until(self, facts, rstate, ws, params, evaluation) -> float | None:
        # evaluate changes at the end of the kept history and at the store's next due end
        if "since" not in rstate:
            return math.inf
        store = params.store()
        due = store.next_due(rstate["w"]) if rstate.get("w") is not None else None
        return min(rstate["last"] + store.size, math.inf if due is None else due, held_until(rstate))

    def evaluate(self, facts, rstate, ws: WarningState, now, params) -> Decisions[Evaluation]:
        if "since" not in rstate:
            return Evaluation()
        store = params.store()
        # The observed history is data too: keep the subject until it has seen
        # nothing for a whole baseline, else a quiet spell would restart the
        # min_history_days wait. After that the history is all zeros and stale.
        keep_until = rstate["last"] + store.size
        kept = Evaluation(wake_at=keep_until, running=True) if now < keep_until else Evaluation()
        w = rstate.get("w")
        if w is None:
            return kept
        if not w["b"] and ws.status == "inactive":
            ends = store.due_ends(w, now)  # nothing counted: skip the quiet stretch at once
            if ends:
                store.mark_evaluated(w, ends[-1])
                forget_decided(rstate, store, w)
            return kept
        observed_from = store.bucket_of(rstate["since"])
        # The period ends due, and the moments a raise was already certain (a count only grows: base.early_points)
        points = DuePoints(store, w, now, early_points(rstate, store, w, params.window_minutes * MIN, now))
        period = params.window_minutes * MIN
        quiet = None  # (end, count) of a period decided quietly, without a baseline, and that moved nothing
        for at, is_early, end in points:
            if is_early:
                quiet = None
                if not early_ready(rstate, end):
                    continue
                full = Count.result(params.window().aggregate(w, Count, end))
                current = ws.severity if ws.status == "firing" else None

                def judge(later, full=full, current=current, end=end):  # the period without the events after a moment
                    target, threshold = self.decide(full - len(later), current, w["b"], end, observed_from, params)
                    return (target, full - len(later), threshold) if lifts(ws, target) else None

                yield from early_raise(rstate, store, end, now, ws, judge, params.for_minutes * MIN, after_ends=True)
                continue
            if quiet is not None and "lifted" not in rstate and unmoved(
                    starts := set(map(float, w["b"])), quiet[0], end, store.step, period):
                # The period slid a step with no complaint entering or leaving it, after a quiet period
                # that left the warning as it was: this end decides the same, to the same end, and so do
                # the ends after it while that holds.
                end = points.pass_quiet(end, starts | {s + period for s in starts},
                                        lambda before, following: unmoved(starts, before, following, store.step, period))
                quiet = (end, quiet[1])
            else:
                quiet = None
                if before_lift(rstate, end):
                    w["evaluated"] = end  # it describes a moment before a raise already made
                    continue
                count = Count.result(params.window().aggregate(w, Count, end))
                current = ws.severity if ws.status == "firing" else None
                target, threshold = self.decide(count, current, w["b"], end, observed_from, params)
                moved = yield Decision(target, count, threshold, end, for_seconds=params.for_minutes * MIN)
                if (moved is None and current is None and count < params.min_samples and ws.status == "inactive"
                        and ws.value == count):
                    quiet = (end, count)  # judged without a baseline: the same count decides the same
            w["evaluated"] = end
            # Evidence: the counted events of the window just decided, and later ones (the cut only
            # moves forward: after a run of ends, that of the last).
            rstate["ids"] = [x for x in rstate.get("ids", []) if x[0] >= end - period]
        if points and w["evaluated"] is not None:
            store.mark_evaluated(w, w["evaluated"])  # the buckets no later end needs go once
            forget_decided(rstate, store, w)
        if bool(w["b"]) or ws.status != "inactive":
            return Evaluation(wake_at=wake(store.next_due(w), rstate), running=True)
        return kept

    @staticmethod
    def decide(count: float, current: str | None, buckets: dict, end: float, observed_from: float,
               params: SurgeParams) -> tuple[str | None, float]:
        """(severity or None, the count that severity needs) for the period ending at `end`."""
        raise_, clear, floor = params.raise_, params.clear, float(params.min_samples)
        if count < params.min_samples and current is None:
            return None, floor  # the common quiet case needs no baseline
        base = baseline(buckets, end, params.window_minutes * MIN, params.periods(),
                        observed_from=observed_from, min_periods=params.min_periods(),
                        min_deviation=params.min_deviation)
        if base is None:
            return None, floor
        if count < params.min_samples:
            return None, max(floor, base.level(clear.get(current, raise_[current])))
        target, z_threshold = target_severity(base.z(count), current, raise_, clear, above=True, strict=False)
        if target is None and current is not None:
            z_threshold = clear.get(current, raise_[current])
        return target, max(floor, base.level(z_threshold))

    def window_of(self, t: Transition, params: Any) -> tuple[float, float]:
        return (t.at - params.window_minutes * MIN, t.at)

    def evidence(self, facts, rstate, at) -> list[str]:
        return [i for ts, i in rstate.get("ids", []) if ts <= at][-EVIDENCE_KEPT:]

    def identity(self, facts):
        return {"district_id": facts["district_id"]}


def _store(params: SurgeParams, _) -> Window:
    return window((params.periods() + 1) * params.window_minutes * MIN, params.step_minutes * MIN,
                  params.lateness_minutes * MIN)


def unmoved(starts: set[float], before: float, end: float, step: float, size: float) -> bool:
    """Whether the window of `size` ending at `end`, one step after `before`, holds what that one held:
    no bucket enters it, none leaves it (bucket starts whole steps apart, so one can enter, one leave).
    `starts`: the bucket starts as numbers (a key written as an int is found where the window would
    not find it: that only says no)."""
    if end != before + step or not step.is_integer() or before % step or size % step:
        return False
    return before not in starts and before - size not in starts


def needed(threshold: float) -> int:
    """The whole count a threshold calls for (8.2 complaints: 9)."""
    return math.ceil(threshold - 1e-9)


class Params(SurgeParams):
    pass


class ComplaintsSurge(SurgeRule):
    rule_id = "complaints.surge"
    sources = {  # parameter -> where its default comes from
        "raise": "heuristic (no published figure)",
        "clear": "heuristic (no published figure)",
        "min_samples": "heuristic (no published figure)",
        "min_history_days": "heuristic (no published figure)",
    }
    category = "staff_conduct"
    subject = "district"
    metric = "complaints_24h"
    unit = "complaints"
    Params = Params

    def counted(self, event, params) -> bool:
        return event["type"] == "complaint.received"

    def scope(self, facts):
        return scope_of(facts, ("district_id",))

    def summaries(self, facts, t: Transition):
        d, n, level = facts["district_id"], round(t.value), needed(t.threshold)
        if t.kind == "resolved":
            return (
                f"Complaints in district {d} back to usual: {n} in the last 24 h (level {level}).",
                f"{d}供电区投诉量已回落：近24小时{n}件（预警线{level}件）。",
            )
        return (
            f"Complaint surge in district {d}: {n} in the last 24 h, {t.severity} level {level} from its "
            f"baseline. Find the common cause (outage, bills, a crew) and brief the hotline.",
            f"{d}供电区近24小时投诉{n}件，超过基线预警线{level}件。请排查共性原因（停电、电费、班组）并通报客服热线。",
        )

