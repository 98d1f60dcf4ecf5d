"""The two kinds of rule, and what each tells the engine.

A rule belongs to one subject kind (ticket, outage, account, district,
feeder, staff) and keeps at most one warning per subject. It may keep state
of its own (its window buckets), and its evaluation yields decisions (the
severity its condition calls for at a time); the engine applies them through
the warning state machine, and owns persistence order and rendering. A rule
that can tell until when evaluating it would change nothing (quiet_until) is
evaluated only when an event reaches it or that time has come.

- DeadlineRule: something expected has not happened by a time (a crew by the
  arrival limit). Severities are reached at known offsets from a start.
- WindowRule: a statistic over an event-time window crosses thresholds
  (p90 arrival minutes, share of late crews, complaints per day ...), with
  separate raise and clear thresholds per severity (hysteresis), a minimum
  sample count, and an optional `for` duration.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from .. import deadlines
from ..deadlines import Deadline
from ..warning_state import RANK, SEVERITIES, Decision, Decisions, Transition, WarningState
from ..windows import Count, Mean, Ratio, Sum, Window, samples, window
from ..worked import worked_out

MIN = 60.0
EVIDENCE = 20  # event ids a warning carries, as the contract allows
# Event times an undecided bucket keeps for the early raise; past it, its latest two are merged
# (a flood's stamp can come a little late, never early, and the state stays bounded)
BUCKET_SAMPLES = 64
HOUR = 3600.0
DAY = 86400.0


class RuleParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _severity_keys(levels: dict[str, float]) -> dict[str, float]:
    for severity, v in levels.items():
        if severity not in RANK:
            raise ValueError(f"unknown severity {severity!r} (one of {', '.join(SEVERITIES)})")
        if v <= 0:
            raise ValueError(f"{severity} must be positive")
    if not levels:
        raise ValueError("at least one severity is needed")
    return levels


# Positive numbers by severity name, e.g. {yellow: 10, orange: 15, red: 30}.
SeverityMap = Annotated[dict[str, float], AfterValidator(_severity_keys)]


class AreaLimits(RuleParams):
    """A limit per area type (urban, rural, remote), in the rule's unit."""

    urban: float = Field(gt=0)
    rural: float = Field(gt=0)
    remote: float = Field(gt=0)

    def of(self, area_type: str | None) -> float:
        return getattr(self, area_type or "urban")


def offsets(levels: dict[str, float], scale: float) -> list[Deadline]:
    """Deadlines from a severity map in some unit (minutes, hours) scaled to seconds (a list made once
    per map of a rule's parameters and scale: callers read it, never change it)."""
    return worked_out(levels, scale, _offsets)


def _offsets(levels: dict[str, float], scale: float) -> list[Deadline]:
    return [Deadline(s, v * scale) for s, v in levels.items()]


@dataclass
class Evaluation:
    """What an evaluation leaves besides its decisions: when to look again, whether to keep the subject."""

    transitions: list[Transition] = field(default_factory=list)  # filled by the engine from the decisions
    wake_at: float | None = None
    running: bool = False  # the subject must be kept (a clock runs, a window holds data)
    emptied: bool = False  # its window lost its last sample: the value is gone (a gauge shows NaN)
    no_value: bool = False  # the warning forgets its value (nothing in the window to give one)


class Rule:
    rule_id: ClassVar[str]
    category: ClassVar[str]
    subject: ClassVar[str]  # "ticket", "outage", "account", "district", "feeder", "staff"
    metric: ClassVar[str]
    unit: ClassVar[str] = "min"
    unit_seconds: ClassVar[float] = MIN  # deadline rules: seconds per metric unit
    observes: ClassVar[frozenset[str]] = frozenset()  # event types passed to observe()
    # Parameter -> where its shipped default comes from: a published limit, or "heuristic".
    # docs/rules.md is generated from it; a parameter not named here is a service default.
    sources: ClassVar[dict[str, str]] = {}
    # A subject's own event proves its own time has come (a crew arriving at
    # 50 min was not there at 36), so entity rules evaluate up to that event's
    # time. Window rules must not: other subjects' events may still be in flight.
    own_clock: ClassVar[bool] = True
    # Its decisions follow the subject's facts, which any event of its kind may change: every
    # event reaches it (not only those it observes).
    from_facts: ClassVar[bool] = False
    # Of those, the event types whose fold can change what it decides (None: all): another leaves it quiet.
    moved_by: ClassVar[frozenset[str] | None] = None
    # When a value exactly at the raise level raises the warning, in words: "reached" (at the level
    # is enough) or "exceeded" (it must be beyond). docs/rules.md states it for every rule and the
    # simulator's oracle (service/sim/truth.py) follows it.
    threshold: ClassVar[str] = ""
    Params: ClassVar[type[RuleParams]]

    def threshold_semantics(self) -> str:
        """Reached or exceeded, and what that means for this rule (docs/rules.md)."""
        return self.threshold

    def observe(self, facts: dict, rstate: dict, event: dict, ts: float, params: Any) -> None:
        """Fold an event into the rule's own state (its windows)."""

    def evaluate(self, facts: dict, rstate: dict, ws: WarningState, now: float, params: Any) -> Decisions[Evaluation]:
        """Yield what the condition calls for at each moment up to `now` (Decision), and return the rest.

        `ws` is the warning as the decisions so far left it: read it, never change it; the
        engine applies each decision through the warning state machine (warning_state.apply).
        """
        raise NotImplementedError

    def quiet_until(self, facts: dict, rstate: dict, ws: WarningState, params: Any,
                    evaluation: Evaluation) -> float | None:
        """Just after `evaluation`: the clock time before which `evaluate`, on facts and state as they
        are, changes nothing and returns what it returned (an event that reaches the rule may alter it).

        None: not known, evaluate on every event and tick. The engine skips a rule whose
        time has not come and that the event does not reach (incremental evaluation).
        """
        return None

    def advance(self, rstate: dict, until: float, params: Any) -> tuple[bool, float | None, float | None]:
        """For a rule whose evaluation after its quiet time and before its last wake time only moves
        how far it has decided: that move, at the clock `until`, without the rest of an evaluation.

        Returns (whether its state moved, its quiet time and its wake time now: what quiet_until and
        the evaluation would say). The engine calls it in place of `evaluate` for a rule not reached
        by the event, between the two times; a rule that does not define it is evaluated there.
        """
        raise NotImplementedError

    def identity(self, facts: dict) -> dict[str, str]:
        raise NotImplementedError

    def scope(self, facts: dict) -> dict[str, str]:
        """Identity plus context keys (district, feeder, crew) a consumer filters on."""
        return self.identity(facts)

    def evidence(self, facts: dict, rstate: dict, at: float) -> list[str]:
        """The ids of the events a warning changed at `at` cites: none dated after `at`."""
        return cited(facts.get("evidence", {}).values(), at)[:20]

    def window_of(self, t: Transition, params: Any) -> tuple[float, float] | None:
        """(start, end) of the window a transition was decided on, for window rules."""
        return None

    def summaries(self, facts: dict, t: Transition) -> tuple[str, str]:
        """(English, Chinese) one-liners a duty officer can act on."""
        raise NotImplementedError


def cited(entries, at: float) -> list[str]:
    """The ids of [id, event time] entries dated no later than `at` (a time not known: kept)."""
    return [i for i, ts in entries if ts is None or ts <= at]


def scope_of(facts: dict, keys: tuple[str, ...]) -> dict[str, str]:
    return {k: facts[k] for k in keys if facts.get(k)}


class DeadlineRule(Rule):
    from_facts = True
    threshold = ("exceeded: a severity is raised once its time limit has passed without the awaited event; "
                 "the event exactly at the limit is in time (no warning), and the warning is stamped with the "
                 "limit")

    def quiet_until(self, facts, rstate, ws, params, evaluation) -> float | None:
        # Nothing changes before the next crossing it returned: the crossings up to then are applied
        # (again, to the same end, if one left the severity as it was), and a stopped clock's are all.
        return math.inf if evaluation.wake_at is None else evaluation.wake_at
    def clock(self, facts: dict) -> tuple[float, float | None] | None:
        """(start, stopped_at or None), or None while the clock has not started."""
        raise NotImplementedError

    def deadlines(self, facts: dict, params: Any) -> list[Deadline]:
        raise NotImplementedError

    def evaluate(self, facts, rstate, ws, now, params) -> Decisions[Evaluation]:
        clock = self.clock(facts)
        if clock is None:
            return Evaluation()
        start, done = clock
        plan = self.deadlines(facts, params)
        if done is not None:
            yield from deadlines.stopping(ws, start, plan, done, self.unit_seconds)
            return Evaluation()
        yield from deadlines.crossings(ws, start, plan, now, self.unit_seconds)
        return Evaluation(wake_at=deadlines.next_due(start, plan, now), running=True)


Levels = dict[str, float]


class WindowParams(RuleParams):
    window_minutes: float = Field(gt=0)
    step_minutes: float = Field(gt=0)
    lateness_minutes: float = Field(5.0, ge=0)
    min_samples: int = Field(1, ge=1)
    for_minutes: float = Field(0.0, ge=0)
    raise_: Levels = Field(alias="raise")
    clear: Levels = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _check(self):
        if self.window_minutes < self.step_minutes:
            raise ValueError("window_minutes must be >= step_minutes")
        for name, levels in (("raise", self.raise_), ("clear", self.clear)):
            for severity in levels:
                if severity not in RANK:
                    raise ValueError(f"{name}: unknown severity {severity!r} (one of {', '.join(SEVERITIES)})")
        missing = set(self.clear) - set(self.raise_)
        if missing:
            raise ValueError(f"clear: {sorted(missing)} have no raise threshold")
        if not self.raise_:
            raise ValueError("raise: at least one severity is needed")
        return self

    def window(self) -> Window:
        return window(self.window_minutes * MIN, self.step_minutes * MIN, self.lateness_minutes * MIN)


def target_severity(value: float, current: str | None, raise_: Levels, clear: Levels,
                    above: bool, strict: bool) -> tuple[str | None, float]:
    """The severity a value calls for, given the current one (hysteresis).

    A level is reached when the value crosses its raise threshold; a level the
    warning already has is kept until the value crosses back over its clear
    threshold (default: the raise threshold). Returns (severity or None, the
    threshold that decided it).
    """
    best: tuple[str | None, float] = (None, min(raise_.values()) if above else max(raise_.values()))
    held_rank = -1 if current is None else RANK[current]
    for severity in sorted(raise_, key=RANK.__getitem__) if len(raise_) > 1 else raise_:
        th = raise_[severity]
        # beyond the raise threshold, or held: a level the warning has, not back across its clear threshold
        if _beyond(value, th, above, strict) or (
                RANK[severity] <= held_rank and _beyond(value, clear.get(severity, th), above, strict)):
            best = (severity, th)
    return best


def _beyond(v: float, th: float, above: bool, strict: bool) -> bool:
    if above:
        return v > th if strict else v >= th
    return v < th if strict else v <= th


# Aggregations whose state can be taken back out of a total: the window ending one step later is the
# one before, plus the bucket that enters, less the bucket that leaves (integer-valued in practice).
UNMERGE = {Count: lambda a, b: a - b, Sum: lambda a, b: a - b,
           Mean: lambda a, b: [a[0] - b[0], a[1] - b[1]], Ratio: lambda a, b: [a[0] - b[0], a[1] - b[1]]}


def slid(w: Window, state: dict, agg, unmerge, previous: tuple[float, Any] | None, end: float) -> Any:
    """The aggregation state of the window ending at `end`: slid from the window a step before it when
    `previous` (end, state) is that one, else summed over the window's buckets."""
    if unmerge is None or previous is None or end != previous[0] + w.step:
        return w.aggregate(state, agg, end)
    total, buckets = previous[1], state["b"]
    entering, leaving = buckets.get(repr(previous[0])), buckets.get(repr(previous[0] - w.size))
    if entering is not None:
        total = agg.merge(total, entering)
    if leaving is not None:
        total = unmerge(total, leaving)
    return total


class EndPoints:
    """The points (end, 0, end) of the window ends first + k * step, k < n (whole seconds), made as
    they are read: a run of quiet ends is leapt over without listing it."""

    __slots__ = ("first", "step", "n")

    def __init__(self, first: float, n: int, step: float):
        self.first, self.n, self.step = first, n, step

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, k: int) -> tuple[float, int, float]:
        if not 0 <= k < self.n:
            raise IndexError(k)
        end = self.first + k * self.step
        return end, 0, end


def leap(points: list[tuple[float, int, float]], i: int, end: float, step: float,
         blocked: set[float]) -> tuple[int, float]:
    """Over a run of window ends that change nothing: (index, end) of the last of `points[i:]` reached
    from `end` one step at a time without passing a time of `blocked` (where, as an end, a bucket
    would enter or leave the window at the next step); (i, end) as they are when unsure.

    `points[i:]` must hold window ends only (no early moments). Whole-second ends only: then the
    ends are consecutive when the last is as many steps after `end` as there are of them.
    """
    if not (float(end).is_integer() and float(step).is_integer()) or i >= len(points):
        return i, end
    limit = min((b for b in blocked if b >= end), default=math.inf)
    j = bisect.bisect_right(points, limit, lo=i, key=_first) - 1
    if j >= i and points[j][2] - end == (j - i + 1) * step:
        return j + 1, points[j][2]
    return i, end


def _first(point: tuple) -> float:
    return point[0]


class DuePoints:
    """What a window rule decides at one evaluation, in time order: (end, 0, end) for each window
    end of `store` due by `now`, and (moment, 1, end) for each of `early` (early_points: a moment
    a raise was already certain, before its window's end). Iterate it once; after an end that
    changed nothing, `pass_quiet` passes over the ends right after it that would decide the same.
    """

    __slots__ = ("points", "early", "i", "step")

    def __init__(self, store: Window, wstate: dict, now: float, early: list[tuple[float, float]]):
        self.early = bool(early)
        self.step = store.step
        span = None if early else store.due_span(wstate, now)
        self.points = EndPoints(*span, store.step) if span is not None else sorted(
            [(end, 0, end) for end in store.due_ends(wstate, now)] + [(at, 1, end) for at, end in early])
        self.i = 0

    def __len__(self) -> int:
        return len(self.points)

    def __iter__(self) -> Iterator[tuple[float, int, float]]:
        points, n = self.points, len(self.points)
        while self.i < n:
            self.i += 1
            yield points[self.i - 1]

    def left(self) -> int:
        """How many points iteration has not reached yet."""
        return len(self.points) - self.i

    def pass_quiet(self, end: float, blocked: set[float], unmoved) -> float:
        """The last of the window ends right after `end` that decide as `end` did: each one step after
        the one before (`unmoved(before, end)`: nothing entered or left the window), no early moment
        among them. Iteration goes on after it. `blocked`: the times at which, as an end, a bucket
        would enter or leave the window at the next step (where a leap over ends only stops)."""
        if not self.early:  # ends only: leap to the last one before a bucket enters or leaves
            self.i, end = leap(self.points, self.i, end, self.step, blocked)
        n = len(self.points)
        while self.i < n:
            _, is_early, following = self.points[self.i]
            if is_early or not unmoved(end, following):
                break
            end = following
            self.i += 1
        return end


def note_latest(rstate: dict, w: Window, ts: float, value: float = 1.0) -> None:
    """Remember the time (and the value it added) of an event counted in ts's bucket, and the earliest
    bucket counted into since the last evaluation (for `early_points`)."""
    samples = rstate.setdefault("mx", {}).setdefault(repr(w.bucket_of(ts)), [])
    if samples and not isinstance(samples[0], list):  # a state that kept only the latest time
        samples[:] = [[samples[0], 0.0]]
    bisect.insort(samples, [ts, value])
    if len(samples) > BUCKET_SAMPLES:
        last = samples.pop()
        samples[-1] = [last[0], samples[-1][1] + last[1]]
    bucket = w.bucket_of(ts)
    rstate["touched"] = min(rstate.get("touched", bucket), bucket)


def early_points(rstate: dict, w: Window, state: dict, size: float, now: float) -> list[tuple[float, float]]:
    """(moment, window end), in time order, for each window end not yet decided whose last bucket holds
    data and whose window holds an event counted since the last evaluation (only those can have crossed);
    the moment is that of the bucket's latest event the clock `now` has reached (`first_crossing`
    finds the event that crossed).

    For a statistic that only grows as events arrive (a count, a sum), the value of the window
    ending at `end` at a moment of its last bucket is that of its events up to that moment: whatever
    arrives later can only add to it. So a raise it calls for can be stamped at the event that made
    it, instead of waiting for `end` and the lateness. `forget_decided` drops what is no longer needed.

    Events dated after `now` are held until the clock reaches them (`held_until`): events dated
    before them may still be in flight on partitions the clock waits for, and one of those may make
    an earlier window cross first. Raised at once, the later moment would stand (an early raise is
    never moved back), so arrival order would decide the stamp; held, the moments are looked at in
    time order, as in an in-order stream.
    """
    touched = rstate.pop("touched", None)  # the rule is evaluated right after it observes
    held_from = rstate.pop("held_from", None)
    rstate.pop("held", None)
    latest = rstate.get("mx")
    if not latest or (touched is None and held_from is None):
        return []
    decided, buckets, out = state["evaluated"], state["b"], []
    # the windows (of `size`) holding the touched bucket end in (touched, touched + size]: looked up
    # step by step, or among the buckets with event times when those are fewer
    steps = max(1, math.ceil(size / w.step - 1e-9))
    candidates: dict[str, float] = {}
    if touched is not None:
        if len(latest) < steps:
            candidates.update((key, float(key)) for key in latest if touched <= float(key) < touched + steps * w.step)
        else:
            candidates.update((repr(touched + i * w.step), touched + i * w.step) for i in range(steps))
    if held_from is not None:  # and every bucket from the first one that held an event
        for key in latest:
            start = float(key)
            if start >= held_from:
                candidates[key] = start
    held: list[tuple[float, float]] = []  # (event time, bucket) the clock has not reached
    for key, start in candidates.items():
        end = start + w.step
        if key in latest and key in buckets and (decided is None or end > decided):
            samples = latest[key]
            known = bisect.bisect_right(samples, [now, math.inf])
            if known:
                out.append((samples[known - 1][0], end))
            if known < len(samples):
                held.append((samples[known][0], start))
    if held:
        # looked at again at the next evaluation, or when the clock reaches the first
        rstate["held_from"] = min(start for _, start in held)
        rstate["held"] = min(at for at, _ in held)
    return sorted(out)


def first_crossing(rstate: dict, w: Window, end: float, now: float, judge):
    """(moment, verdict) of the first event of the last bucket of the window ending at `end`, dated
    no later than `now`, by which the window's value calls for a raise; None if none does.

    judge(later) gives the verdict on the window without the [time, value] samples `later` (those
    after the moment), or None when it raises nothing. The value only grows with the moment, so the
    first moment is found by halving.
    """
    samples = rstate["mx"][repr(end - w.step)]
    known = bisect.bisect_right(samples, [now, math.inf])
    if not known:
        return None
    verdict = judge(samples[known:])
    if verdict is None:
        return None
    lo, hi = 0, known - 1  # samples[hi] raises
    while lo < hi:
        mid = (lo + hi) // 2
        if judge(samples[mid + 1:]) is None:
            lo = mid + 1
        else:
            hi = mid
    return samples[hi][0], (verdict if hi == known - 1 else judge(samples[hi + 1:]))


def early_ready(rstate: dict, end: float) -> bool:
    """Whether the window ending at `end` is undecided, so that a moment of its last bucket may raise."""
    decided = rstate["w"]["evaluated"]
    return decided is None or end > decided


def early_raise(rstate: dict, w: Window, end: float, now: float, ws: WarningState, judge,
                for_seconds: float = 0.0, after_ends: bool = False) -> Decisions[None]:
    """The raise (or escalation) the window ending at `end` called for at its first crossing event
    (`first_crossing`), stamped then (never before the warning's last change); nothing if none.

    A crossing waits while a window end before `end` is undecided, so that the decisions are those
    of an in-order stream whose clock had decided every end before the crossing:
    - always with `after_ends` (thresholds that move from end to end, as a baseline's do: an
      earlier end can call for a raise of its own, which a raise at the crossing would pass over);
    - otherwise when the crossing raises nothing because the warning fires: the earlier end may
      clear the warning, and then the crossing raises it again at its own moment. An escalation
      does not wait (with fixed levels an earlier end raises nothing its own crossing did not).
    A waiting bucket is looked at again by `early_points` at the next evaluation, which comes by
    the next end's due time at the latest; the raise keeps the crossing's moment.
    """
    first = w.first_undecided_end(rstate["w"])
    if first is not None and first < end and (after_ends or ws.status == "firing"):
        found = None if after_ends else first_crossing(rstate, w, end, now, judge)
        if found is None:
            rstate["held_from"] = min(rstate.get("held_from", math.inf), end - w.step)
            return
    else:
        found = first_crossing(rstate, w, end, now, judge)
    if found is not None:
        at, (target, value, threshold) = found
        rstate["lifted"] = max(at, ws.changed_at or at)
        yield Decision(target, value, threshold, rstate["lifted"], for_seconds=for_seconds)


def held_until(rstate: dict) -> float:
    """The clock time at which an event `early_points` held comes due (inf: none held)."""
    return rstate.get("held", math.inf)


def wake(due: float | None, rstate: dict) -> float | None:
    """The earlier of a window's next due end (None: none) and the first held event."""
    held = held_until(rstate)
    if held == math.inf:
        return due
    return held if due is None else min(due, held)


def forget_decided(rstate: dict, w: Window, state: dict) -> None:
    """After window ends were decided: forget the latest times of buckets no undecided end needs."""
    latest = rstate.get("mx")
    if latest:
        decided, buckets = state["evaluated"], state["b"]
        for key in [k for k in latest if k not in buckets or (decided is not None and float(k) + w.step <= decided)]:
            del latest[key]


def before_lift(rstate: dict, end: float) -> bool:
    """Whether a window end is at or before the last early raise: its decision would come after the
    raise but describe an earlier moment (and its window leaves out the events that raised it).
    Forgets the raise's time once every such end is decided."""
    lifted = rstate.get("lifted")
    if lifted is None:
        return False
    if end <= lifted:
        return True
    del rstate["lifted"]
    return False


def lifts(ws: WarningState, target: str | None) -> bool:
    """Whether `target` raises the warning or escalates it (an early decision never lowers one)."""
    if target is None:
        return False
    if ws.status != "firing":
        return True
    return min(RANK[target] + ws.bump, len(SEVERITIES) - 1) > RANK[ws.severity]


class WindowRule(Rule):
    own_clock = False
    above: ClassVar[bool] = True  # warn when the value is high (False: when low)
    strict: ClassVar[bool] = True  # '>' rather than '>='

    def threshold_semantics(self) -> str:
        sign = {(True, True): ">", (True, False): ">=", (False, True): "<", (False, False): "<="}[
            (self.above, self.strict)]
        word = "exceeded" if self.strict else "reached"
        return (f"{word}: raised when the value is {sign} the raise level (with at least `min_samples` samples); "
                f"a firing severity is kept until the value is back across its clear level")

    def aggregation(self, params: Any):
        raise NotImplementedError

    def sample(self, facts: dict, event: dict) -> Any:
        """The value this event adds to the window, or None if it does not count."""
        raise NotImplementedError

    def sample_with(self, facts: dict, event: dict, params: Any) -> Any:
        """As `sample`, for rules whose sample depends on their parameters."""
        return self.sample(facts, event)

    def grows(self, params: Any) -> bool:
        """Whether the statistic can only grow while events arrive inside its window (a count or a
        sum, warned on when high): then a raise is decided at the event that crosses the threshold."""
        return self.above and self.aggregation(params) in (Count, Sum)

    def levels(self, facts: dict, params: Any) -> tuple[Levels, Levels]:
        return params.raise_, params.clear

    def value(self, agg, state) -> float | None:
        return agg.result(state)

    def observe(self, facts, rstate, event, ts, params) -> None:
        v = self.sample_with(facts, event, params)
        if v is None:
            return
        w = params.window()
        rstate.setdefault("w", w.new_state())
        if w.add(rstate["w"], self.aggregation(params), ts, v):
            rstate["ev"] = (rstate.get("ev", []) + [[event["event_id"], ts]])[-EVIDENCE:]
            if self.grows(params):
                note_latest(rstate, w, ts, v)

    def evidence(self, facts: dict, rstate: dict, at: float) -> list[str]:
        """The most recent events that went into the window, of those dated no later than `at`."""
        return cited(rstate.get("ev", []), at)

    def quiet_until(self, facts, rstate, ws, params, evaluation) -> float | None:
        # evaluate decides only the ends `due_ends` returns, and there are none before `next_due`
        if "w" not in rstate:
            return math.inf
        if not rstate["w"]["b"] and ws.status == "inactive" and ws.value is not None:
            return None  # evaluate forgets the last value at once
        due = params.window().next_due(rstate["w"])
        return min(math.inf if due is None else due, held_until(rstate))

    def evaluate(self, facts, rstate, ws, now, params) -> Decisions[Evaluation]:
        if "w" not in rstate:
            return Evaluation()
        w, agg = params.window(), self.aggregation(params)
        if not rstate["w"]["b"] and ws.status == "inactive":
            ends = w.due_ends(rstate["w"], now)  # nothing to decide: skip the quiet stretch at once
            if ends:
                w.mark_evaluated(rstate["w"], ends[-1])
                forget_decided(rstate, w, rstate["w"])
            # a window end passed with nothing in it: no value (a gauge shows NaN)
            return Evaluation(emptied=bool(ends), no_value=True)
        emptied = False
        raise_, clear = self.levels(facts, params)
        # Window ends in time order, and for a growing statistic the moments a raise was
        # already certain (early_points), each before the end of its own window.
        points = DuePoints(w, rstate["w"], now,
                           early_points(rstate, w, rstate["w"], w.size, now) if self.grows(params) else [])
        # consecutive ends slide their aggregate (bucket keys are exact when step and size are whole seconds)
        unmerge = UNMERGE.get(agg) if float(w.step).is_integer() and float(w.size).is_integer() else None
        previous = None
        same = None  # the window's state when the end before it changed nothing: the same state does it again
        buckets, step, size = rstate["w"]["b"], w.step, w.size
        for at, is_early, end in points:
            if is_early:
                same = None
                if not early_ready(rstate, end):
                    continue
                full = w.aggregate(rstate["w"], agg, end)

                def judge(later, full=full):  # the window without the events after a moment
                    state = full
                    if later:
                        gone = agg.zero()
                        for _, v in later:
                            gone = agg.add(gone, v)
                        state = UNMERGE[agg](full, gone)
                    value = self.value(agg, state)
                    if value is None or samples(agg, state) < params.min_samples:
                        return None
                    target, th = target_severity(value, ws.severity if ws.status == "firing" else None,
                                                 raise_, clear, self.above, self.strict)
                    return (target, value, th) if lifts(ws, target) else None

                yield from early_raise(rstate, w, end, now, ws, judge, params.for_minutes * MIN)
                continue
            if before_lift(rstate, end):
                rstate["w"]["evaluated"] = end  # it describes a moment before a raise already made
                continue
            state = slid(w, rstate["w"], agg, unmerge, previous, end)
            previous = (end, state)
            if state is same and ws.status != "pending":
                # Nothing entered or left the window since the end before, which moved nothing (the
                # warning neither changed nor waits out a `for`): this end decides the same, to the same end.
                # So do the ends right after it that slide the same state (the next step, no bucket
                # entering or leaving, no early raise between, none at or before a raise made early).
                if unmerge is not None and "lifted" not in rstate and points.left():
                    # bucket starts as numbers: an end found here may be no key (a key written as an
                    # int), which only stops the run early; a key is always found
                    starts = set(map(float, buckets))
                    end = points.pass_quiet(end, starts | {s + size for s in starts}, lambda before, following: (
                        following == before + step and before not in starts and before - size not in starts))
                    previous = (end, state)
                rstate["w"]["evaluated"] = end
                continue
            same = None
            value = self.value(agg, state)
            n = samples(agg, state)
            if n == 0 or value is None:
                # Nothing left in the window: the warning clears rather than going stale. There is
                # no value: the resolve says so (0 would read as "p90 0 min"), the gauge shows NaN.
                emptied = True  # a never-fired rule's value is not kept between ticks: say so each time
                yield Decision(None, 0.0, next(iter(raise_.values())), end, no_samples=True)
                rstate["w"]["evaluated"] = end
                continue
            elif n < params.min_samples:
                # Too few samples to decide: a firing warning holds, a quiet one stays quiet.
                rstate["w"]["evaluated"] = end
                same = state
                continue
            else:
                target, th = target_severity(value, ws.severity if ws.status == "firing" else None,
                                             raise_, clear, self.above, self.strict)
            moved = yield Decision(target, value, th, end, for_seconds=params.for_minutes * MIN)
            if moved is None and ws.value == value:  # no transition, and not one withdrawn (warning_state.apply)
                same = state
            rstate["w"]["evaluated"] = end
        if points and rstate["w"]["evaluated"] is not None:
            # the ends above were recorded one by one; the buckets no later end needs go once
            w.mark_evaluated(rstate["w"], rstate["w"]["evaluated"])
            forget_decided(rstate, w, rstate["w"])
        # One more end after the last sample left: it is decided empty, and the gauge shows the gap.
        running = bool(rstate["w"]["b"]) or ws.status != "inactive" or ws.value is not None
        return Evaluation(wake_at=wake(w.next_due(rstate["w"]), rstate) if running else None, running=running,
                          emptied=emptied)

    def window_of(self, t: Transition, params: Any) -> tuple[float, float] | None:
        return (t.at - params.window_minutes * MIN, t.at)
