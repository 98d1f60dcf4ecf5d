"""complaints.staff_repeat: one staff member is named in repeated complaints.

Complaints naming the staff member in the last 30 days; yellow at 3, orange
at 5 (heuristic). Supports the responsibility system: the warning names the
person and carries the complaint ids as evidence.

Also home of RecentEventsRule, the event-driven count that
complaints.billing_errors and meter.tamper_suspected share. It is decided at
change points, not on a bucket grid: the value can only change when an event
enters the window (at its own time) or leaves it (window length later), so
the warning is raised at the exact time of the complaint that crosses the
threshold and resolves at the exact time one ages out. A change point is
decided once the clock has passed it by `lateness_minutes`, so events up to
that late, in any order, give the same timeline; later ones are counted as
late, never silently lost.

The state keeps each counted event's time, label and id while it can still
matter, and no longer: a flood of billing-error complaints (100 an hour in a
district after a bad billing run) once made a district's state 108 KB after a
day and every event in it cost 1.8 ms (bench.flood_cost), since every
evaluation went over them all. A decided event (before the horizon) with at
least `keep` decided events newer than it, `keep` being the highest threshold
and at least the evidence kept:
- for a count, it is added to its hour's tally (`w["old"]`: count and newest
  time). Until every newer one of those `keep` has left the window, the value
  stays at or above every threshold whatever the old ones do, and they are
  older, so they are gone by then: every transition comes at the same time
  with the same value as with the events kept one by one. The value recorded
  in between (shown by an escalation for an unacknowledged warning) counts a
  tally until its newest event leaves: at most one hour's events too many.
- for distinct labels, it is dropped when a newer decided event has the same
  label: that one keeps the label in the window longer. The value is exact.
The newest `keep` events are kept one by one, so the evidence is the same.

Events not yet decided are kept one by one, at most MAX_ENTRIES of them
(only a flood or events dated far ahead of the clock come near): beyond, the
earliest-dated are kept, and one dated later than all of them is counted as
late; one dated earlier takes the place of the latest, counted as late. The
count then reads MAX_ENTRIES or more, far above any threshold.
"""

from __future__ import annotations

import bisect
import math
from typing import Any, ClassVar

from pydantic import ConfigDict, Field, model_validator

from ..warning_state import RANK, SEVERITIES, Decision, Decisions, Transition, WarningState
from .base import MIN, Evaluation, Levels, Rule, RuleParams, SeverityMap, scope_of, target_severity

DAY = 86400.0
HOUR = 3600.0
EVIDENCE_KEPT = 20
MAX_ENTRIES = 1000  # events kept one by one (module doc)


class RecentParams(RuleParams):
    window_days: float = Field(gt=0)
    lateness_minutes: float = Field(5.0, ge=0)
    raise_: SeverityMap = Field(alias="raise")
    clear: Levels = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _check(self):
        for severity in self.clear:
            if severity not in RANK:
                raise ValueError(f"clear: unknown severity {severity!r} (one of {', '.join(SEVERITIES)})")
        missing = set(self.clear) - set(self.raise_)
        if missing:
            raise ValueError(f"clear: {sorted(missing)} have no raise threshold")
        return self


def next_change(w: dict, size: float, after: float) -> float | None:
    """The first time after `after` at which the value can change, when every kept event is after
    `after - size`: the earliest of a kept event after `after`, the oldest kept event leaving, and
    a tally leaving (None: none)."""
    nxt = None
    if w["b"]:
        times = list(map(float, w["b"]))
        oldest = min(times)
        entering = oldest if oldest > after else min(filter(after.__lt__, times), default=None)
        nxt = oldest + size if entering is None else min(entering, oldest + size)
    old = w.get("old")
    if old:
        leaving = min((n + size for _, n in old.values() if n + size > after), default=None)
        if leaving is not None:
            nxt = leaving if nxt is None else min(nxt, leaving)
    return nxt


class RecentEventsRule(Rule):
    """Events (or distinct labels of events) in the window (t - window, t], decided at change points."""

    distinct: ClassVar[bool] = False  # the value: number of events (False) or of distinct labels (True)
    threshold = "reached: raised when the count is >= the raise level, at the event that makes it so"
    # Its subjects hear from more than one partition (an account: bills and meter
    # alarms; a district: complaints and derived events), so one event's time
    # does not prove the others have arrived: change points follow the clock.
    own_clock = False

    def label(self, facts: dict, event: dict, params: Any) -> str | None:
        """What the event contributes, or None if it does not count."""
        raise NotImplementedError

    def observe(self, facts, rstate, event, ts, params) -> None:
        label = self.label(facts, event, params)
        if label is None:
            return
        w = rstate.setdefault("w", {"b": {}, "evaluated": None, "late": 0})
        if w["evaluated"] is not None and ts <= w["evaluated"]:
            w["late"] += 1
            return
        if w.get("n", MAX_ENTRIES) >= MAX_ENTRIES:
            w["n"] = sum(map(len, w["b"].values()))  # measured again only near the cap
        if w["n"] >= MAX_ENTRIES:
            latest = max(w["b"], key=float)
            if ts >= float(latest):
                w["late"] += 1
                return
            entries = w["b"][latest]
            entries.pop()
            if not entries:
                del w["b"][latest]
            w["late"] += 1
            w["n"] -= 1
        w["b"].setdefault(repr(ts), []).append([label, event["event_id"]])
        w["n"] = w.get("n", 0) + 1

    def value_at(self, w: dict, t: float, size: float) -> float:
        labels = [label for k, entries in w["b"].items() if t - size < float(k) <= t for label, _ in entries]
        if self.distinct:
            return float(len(set(labels)))
        # a tally counts until its newest event leaves (module doc)
        return float(len(labels) + sum(n for n, newest in w.get("old", {}).values() if t - size < newest <= t))

    def quiet_until(self, facts, rstate, ws, params, evaluation) -> float | None:
        # evaluate decides nothing until its horizon (now - lateness) passes the decided one
        w = rstate.get("w")
        if w is None:
            return math.inf
        if w["evaluated"] is None:
            return None
        return w["evaluated"] + params.lateness_minutes * MIN

    def advance(self, rstate, until, params) -> tuple[bool, float | None, float | None]:
        # Before its wake time (a change point plus the lateness) evaluate finds no change point by its
        # horizon: it only moves the horizon, which observe judges lateness against (see evaluate).
        w, lateness = rstate["w"], params.lateness_minutes * MIN
        horizon = until - lateness
        nxt = next_change(w, params.window_days * DAY, w["evaluated"])
        moved = math.isfinite(horizon) and horizon > w["evaluated"]
        if moved:
            w["evaluated"] = horizon
        return moved, w["evaluated"] + lateness, None if nxt is None else nxt + lateness

    def evaluate(self, facts, rstate, ws: WarningState, now, params) -> Decisions[Evaluation]:
        w = rstate.get("w")
        if w is None:
            return Evaluation()
        size, lateness = params.window_days * DAY, params.lateness_minutes * MIN
        horizon, decided = now - lateness, w["evaluated"]
        moves = math.isfinite(horizon) and (decided is None or horizon > decided)
        if not moves or decided is not None:
            # only the next change point is needed (as _change_points: every kept event is after
            # `decided - size`, so it leaves after `decided`)
            nxt = next_change(w, size, float("-inf") if decided is None else decided)
            if not moves or nxt is None or nxt > horizon:
                # Nothing to decide: an event between two ticks, or a horizon that passes no change
                # point. Then no kept event leaves the window or becomes decided, so the pruning and
                # compaction below would keep everything as it is; only the horizon moves.
                if moves:
                    w["evaluated"] = horizon
                running = bool(w["b"]) or bool(w.get("old")) or ws.status != "inactive"
                return Evaluation(wake_at=nxt + lateness if nxt is not None else None, running=running)
        points = self._change_points(w, size, after=decided)
        due = bisect.bisect_right(points, horizon)
        for p in points[:due]:
            value = self.value_at(w, p, size)
            current = ws.severity if ws.status == "firing" else None
            target, th = target_severity(value, current, params.raise_, params.clear, above=True, strict=False)
            yield Decision(target, value, th, p)
        del points[:due]  # what is left is after the new horizon: the buckets dropped below are not in it
        w["evaluated"] = horizon
        w["b"] = {k: v for k, v in w["b"].items() if float(k) > horizon - size}
        if "old" in w:
            w["old"] = {k: v for k, v in w["old"].items() if v[1] > horizon - size}
        self._compact(w, horizon, self.keep(params))
        running = bool(w["b"]) or bool(w.get("old")) or ws.status != "inactive"
        wake = points[0] + lateness if points else None
        return Evaluation(wake_at=wake, running=running)

    @staticmethod
    def keep(params: RecentParams) -> int:
        """Decided events kept one by one, the newest first (module doc)."""
        return max(math.ceil(max([*params.raise_.values(), *params.clear.values()])), EVIDENCE_KEPT)

    def _compact(self, w: dict, horizon: float, keep: int) -> None:
        """Tally (a count) or drop (distinct labels) the decided events `keep` newer ones make moot."""
        decided = sorted((t, k) for k in w["b"] if (t := float(k)) <= horizon)
        newer, labels = 0, set()
        for t, k in reversed(decided):
            entries = w["b"][k]
            if newer < keep:
                newer += len(entries)
                labels.update(label for label, _ in entries)
                continue
            if self.distinct:
                left = [e for e in entries if e[0] not in labels]
                labels.update(label for label, _ in left)
                if left:
                    w["b"][k] = left
                    continue
            else:
                tally = w.setdefault("old", {}).setdefault(repr(t - t % HOUR), [0, t])
                tally[0] += len(entries)
                tally[1] = max(tally[1], t)
            del w["b"][k]

    @staticmethod
    def _change_points(w: dict, size: float, after: float | None) -> list[float]:
        """The times after `after` at which the value can change (an event enters or leaves), in order."""
        points = set()
        for k in w["b"]:
            t = float(k)
            points.add(t)
            points.add(t + size)
        for _, newest in w.get("old", {}).values():  # a tally leaves with its newest event
            points.add(newest + size)
        return sorted(points if after is None else (p for p in points if p > after))

    def window_of(self, t: Transition, params: Any) -> tuple[float, float]:
        return (t.at - params.window_days * DAY, t.at)

    def evidence(self, facts, rstate, at) -> list[str]:
        b = rstate.get("w", {}).get("b", {})
        ids = [i for k in sorted(b, key=float) if float(k) <= at for _, i in b[k]]
        return ids[-EVIDENCE_KEPT:]


class Params(RecentParams):
    window_days: float = Field(30.0, gt=0)
    raise_: SeverityMap = Field(default_factory=lambda: {"yellow": 3.0, "orange": 5.0}, alias="raise")


class ComplaintsStaffRepeat(RecentEventsRule):
    rule_id = "complaints.staff_repeat"
    sources = {  # parameter -> where its default comes from
        "raise": "heuristic (no published figure)",
        "window_days": "heuristic (no published figure)",
    }
    category = "staff_conduct"
    subject = "staff"
    metric = "complaints_naming_staff"
    unit = "complaints"
    observes = frozenset({"complaint.received"})
    Params = Params

    def label(self, facts, event, params) -> str | None:
        return event.get("category", "other") if event["type"] == "complaint.received" else None

    def identity(self, facts):
        return {"staff_id": facts["staff_id"]}

    def scope(self, facts):
        return scope_of(facts, ("staff_id", "district_id"))

    def summaries(self, facts, t: Transition):
        s, d, n, th = facts["staff_id"], facts.get("district_id", "?"), round(t.value), round(t.threshold)
        if t.kind == "resolved":
            return (
                f"Staff {s} ({d}) now has {n} complaints in the review window, below {th}.",
                f"员工{s}（{d}）统计期内投诉已降至{n}次，低于{th}次。",
            )
        return (
            f"Staff {s} ({d}) named in {n} complaints in the review window (threshold {th}). "
            f"Team leader to review them and hold a conduct talk.",
            f"员工{s}（{d}）统计期内被投诉{n}次（阈值{th}次），请班组长复核投诉并约谈。",
        )
