"""Event-time windows kept as plain dicts, closed by the clock, not by Faust.

A window is a row of buckets `step` seconds wide; a window ending at `end`
covers the buckets in [end - size, end) (size == step: tumbling; size > step:
sliding). A window end is evaluated once, when the clock has passed
`end + lateness`, so events up to `lateness` late still count. An event older
than the last evaluated end can no longer change anything that was decided:
it is counted in `late` (and exported as a metric), never silently dropped.

The buckets a window keeps are bounded whatever the event times: at most
`max_buckets` (two windows' worth of steps and the lateness, at least
MIN_BUCKETS). Beyond, the buckets dated nearest the clock are kept (they are
decided first): an observation for a later bucket is counted as late, and one
for an earlier bucket takes the place of the latest, whose observations are
counted as late. Only events dated far ahead of the clock reach this.

Aggregations follow a tiny protocol, as in Quix Streams: `zero()`,
`add(state, value)`, `merge(a, b)`, `result(state)`, and `total(states)`, the
merge of many (a window's buckets) in one go; their states are JSON values so
a Faust table can store them.
"""

from __future__ import annotations

import bisect
import functools
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from . import sketch

MIN_BUCKETS = 256  # buckets a window may always keep (about a day of 5-minute steps)


class Count:
    """Number of observations."""

    name: ClassVar[str] = "count"

    @staticmethod
    def zero() -> int:
        return 0

    @staticmethod
    def add(state: int, value: Any) -> int:
        return state + 1

    @staticmethod
    def merge(a: int, b: int) -> int:
        return a + b

    @staticmethod
    def total(states: list[int]) -> int:
        return sum(states)

    @staticmethod
    def result(state: int) -> float:
        return float(state)


class Sum:
    """Sum of the observed values."""

    name: ClassVar[str] = "sum"

    @staticmethod
    def zero() -> float:
        return 0.0

    @staticmethod
    def add(state: float, value: float) -> float:
        return state + value

    @staticmethod
    def merge(a: float, b: float) -> float:
        return a + b

    @staticmethod
    def total(states: list[float]) -> float:
        out = 0.0
        for v in states:  # one by one, in order, as merge would: the same float
            out += v
        return out

    @staticmethod
    def result(state: float) -> float:
        return state


class _Pair:
    """An aggregation whose state is [numerator, count] and whose result is their quotient."""

    @staticmethod
    def merge(a: list, b: list) -> list:
        return [a[0] + b[0], a[1] + b[1]]

    @classmethod
    def total(cls, states: list[list]) -> list:
        out = cls.zero()
        for v in states:
            out = cls.merge(out, v)
        return out

    @staticmethod
    def result(state: list) -> float | None:
        return state[0] / state[1] if state[1] else None


class Mean(_Pair):
    """Mean of the observed values; state [sum, count]."""

    name: ClassVar[str] = "mean"

    @staticmethod
    def zero() -> list:
        return [0.0, 0]

    @staticmethod
    def add(state: list, value: float) -> list:
        return [state[0] + value, state[1] + 1]



class Ratio(_Pair):
    """Share of observations that are true; state [hits, total]."""

    name: ClassVar[str] = "ratio"

    @staticmethod
    def zero() -> list:
        return [0, 0]

    @staticmethod
    def add(state: list, value: bool) -> list:
        return [state[0] + (1 if value else 0), state[1] + 1]



class Quantile:
    """A quantile of the observed values from a DDSketch (1 % relative error)."""

    name: ClassVar[str] = "quantile"

    def __init__(self, q: float):
        self.q = q
        self.name = f"p{round(q * 100)}"

    @staticmethod
    def zero() -> dict:
        return sketch.empty()

    @staticmethod
    def add(state: dict, value: float) -> dict:
        sketch.add(state, value)
        return state

    @staticmethod
    def merge(a: dict, b: dict) -> dict:
        out = sketch.empty()
        sketch.merge(out, a)
        sketch.merge(out, b)
        return out

    @staticmethod
    def total(states: list[dict]) -> dict:
        out = sketch.empty()
        for v in states:  # into one new sketch, not a new one per bucket
            sketch.merge(out, v)
        return out

    def result(self, state: dict) -> float | None:
        return sketch.quantile(state, self.q)


def samples(agg, state) -> int:
    """How many observations an aggregation state holds (for minimum-sample guards)."""
    if isinstance(state, int):
        return state
    if isinstance(state, list):
        return int(state[1])
    if isinstance(state, dict):
        return int(state["n"])
    raise TypeError(f"no sample count for {agg!r}")


@dataclass(frozen=True)
class Window:
    size: float
    step: float
    lateness: float = 0.0

    def __post_init__(self):
        if self.step <= 0 or self.size < self.step or self.lateness < 0:
            raise ValueError("a window needs step > 0, size >= step and lateness >= 0")

    def bucket_of(self, ts: float) -> float:
        return math.floor(ts / self.step) * self.step

    @staticmethod
    def new_state() -> dict:
        return {"b": {}, "evaluated": None, "late": 0}

    @property
    def max_buckets(self) -> int:
        return max(2 * math.ceil(self.size / self.step) + math.ceil(self.lateness / self.step) + 2, MIN_BUCKETS)

    def add(self, state: dict, agg, ts: float, value: Any) -> bool:
        """Put an observation in its bucket; False (and counted) when too late or beyond the bucket cap."""
        if state["evaluated"] is not None and ts < state["evaluated"]:
            state["late"] += 1
            return False
        key = repr(self.bucket_of(ts))
        buckets = state["b"]
        if key not in buckets and len(buckets) >= self.max_buckets:
            latest = max(buckets, key=float)
            if float(key) > float(latest):
                state["late"] += 1
                return False
            dropped = buckets.pop(latest)
            state["late"] += 1 if isinstance(dropped, float) else samples(agg, dropped)  # a Sum keeps no count
        buckets[key] = agg.add(buckets[key] if key in buckets else agg.zero(), value)
        return True

    def due_ends(self, state: dict, now: float) -> list[float]:
        """Window ends not yet evaluated whose lateness has passed, oldest first.

        Ends whose window holds nothing, after the first such end in a row,
        are left out (except the last due end, so the state records how far
        it was decided): an empty window decides what the one before it did,
        and an old first event or a clock that jumped would otherwise walk
        every step between (decades of them, seconds of a blocked loop). So
        a call returns the ends whose window holds data, one empty end after
        each run of them, the first and the last due end: for one old
        observation, one window's steps plus two.
        """
        base = self._base(state)
        if base is None or math.isinf(now):  # no clock yet: nothing can be decided
            return []
        last_closed = self.bucket_of(now - self.lateness)
        if last_closed - base > (math.ceil(self.size / self.step) + 1) * self.step:
            return self._ends_skipping_empty(state, base, last_closed)
        step = self.step
        span = self._whole_steps(base, last_closed)
        if span is not None:
            return [base + k * step for k in range(1, span + 1)]
        ends = []
        e = base + step
        while e <= last_closed:
            ends.append(e)
            e += step
        return ends

    def due_span(self, state: dict, now: float) -> tuple[float, int] | None:
        """(first, n) when the due ends are exactly first + k * step for k < n (whole seconds, no
        stretch skipped), as `due_ends` would list them; None when only `due_ends` can tell."""
        base = self._base(state)
        if base is None or math.isinf(now):
            return None
        last_closed = self.bucket_of(now - self.lateness)
        if last_closed - base > (math.ceil(self.size / self.step) + 1) * self.step:
            return None
        span = self._whole_steps(base, last_closed)
        return None if span is None else (base + self.step, span)

    def _whole_steps(self, base: float, last_closed: float) -> int | None:
        """How many ends base + k * step (k >= 1) are at or before `last_closed`, when all are whole
        seconds: then base + k * step is exactly the sum of k steps. None otherwise."""
        step = self.step
        if (float(base).is_integer() and float(step).is_integer() and float(last_closed).is_integer()
                and abs(last_closed) < 2 ** 52):
            return max(int((last_closed - base) // step), 0)
        return None

    def _ends_skipping_empty(self, state: dict, base: float, last_closed: float) -> list[float]:
        starts = sorted(map(float, state["b"]))
        ends: list[float] = []
        e = base + self.step
        previous_empty = False
        while e <= last_closed:
            i = bisect.bisect_left(starts, e - self.size)  # the first bucket not before the window's start
            empty = i == len(starts) or starts[i] >= e
            if empty and previous_empty:
                # nothing before the window that holds the next bucket can change anything
                following = self.bucket_of(starts[i]) + self.step if i < len(starts) else last_closed
                following = min(following, last_closed)
                if following > e:
                    e = following
                    continue
            ends.append(e)
            previous_empty = empty
            e += self.step
        return ends

    def aggregate(self, state: dict, agg, end: float):
        """The aggregation state over [end - size, end)."""
        start = end - self.size
        return agg.total([value for key, value in state["b"].items() if start <= float(key) < end])

    def mark_evaluated(self, state: dict, end: float) -> None:
        """Record that `end` was decided and drop buckets no future window needs."""
        state["evaluated"] = end
        keep_from = end - self.size + self.step
        if state["b"] and min(map(float, state["b"])) < keep_from:  # most ends drop no bucket
            state["b"] = {k: v for k, v in state["b"].items() if float(k) >= keep_from}

    def first_undecided_end(self, state: dict) -> float | None:
        """The earliest window end not decided yet (None: nothing counted and nothing decided)."""
        base = self._base(state)
        return None if base is None else base + self.step

    def next_due(self, state: dict) -> float | None:
        """The clock time at which the next end becomes due."""
        base = self._base(state)
        return None if base is None else base + self.step + self.lateness

    @staticmethod
    def _base(state: dict) -> float | None:
        """The last decided end; before any, the start of the oldest bucket."""
        if state["evaluated"] is not None:
            return state["evaluated"]
        return min(map(float, state["b"]), default=None)


@functools.lru_cache(maxsize=1024)
def window(size: float, step: float, lateness: float = 0.0) -> Window:
    """The Window of these sizes, built once: rules ask for theirs on every event and evaluation."""
    return Window(size, step, lateness)
