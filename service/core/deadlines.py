"""Deadline rules: something expected has not happened by a time.

A deadline rule has a clock that starts at one event (a ticket created) and
stops at another (the crew arrived). Severities are reached at fixed offsets
from the start. Because the offsets are known, every threshold crossing has
an exact time: transitions are stamped with it, not with the moment a tick
happened to notice, so a replay yields the same timeline whatever the tick
granularity, and an event that stops the clock first replays the crossings
before it.

A limit is exceeded, not merely reached: the expected thing happening exactly
at the limit is in time (a crew on site at 45 min meets a 45-minute
commitment). So a crossing at `at` is decided only once the clock is past it,
and a clock stopped at `at` stops it before it: a warning is never raised and
resolved at the same instant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .warning_state import RANK, Decision, Decisions, Transition, WarningState, apply
from .worked import worked_out


@dataclass(frozen=True, slots=True)
class Deadline:
    severity: str
    after: float  # seconds from the clock's start


def _reached(deadlines: list[Deadline], elapsed: float) -> Deadline | None:
    """The highest-severity deadline already passed after `elapsed` seconds."""
    best = None
    for d in deadlines:
        if d.after <= elapsed and (best is None or RANK[d.severity] > RANK[best.severity]):
            best = d
    return best


def crossings(
    state: WarningState, start: float, deadlines: list[Deadline], until: float, unit: float
) -> Decisions[None]:
    """Every crossing in (last change, until), in time order: one at `until` is not exceeded yet.

    Crossings at or before the warning's last change were applied before:
    skipping them makes re-evaluation (a redelivered event, a second tick)
    change nothing.
    """
    for after, severity, reached_after in worked_out(deadlines, None, _schedule):
        at = start + after
        if at >= until:
            break
        if state.changed_at is not None and at <= state.changed_at:
            continue
        yield Decision(severity, after / unit, reached_after / unit, at)


def _schedule(deadlines: list[Deadline], _: None) -> list[tuple[float, str, float]]:
    """(offset, severity reached there, that severity's offset) at each distinct offset, in order:
    worked out once per list of deadlines (lists made from a rule's parameters, never changed)."""
    out = []
    for after in sorted({d.after for d in deadlines}):
        reached = _reached(deadlines, after)
        out.append((after, reached.severity, reached.after))
    return out


def stopping(
    state: WarningState, start: float, deadlines: list[Deadline], done_at: float, unit: float
) -> Decisions[None]:
    """The expected thing happened at `done_at`: the crossings before it (not one at it), then clear."""
    yield from crossings(state, start, deadlines, done_at, unit)
    threshold = min((d.after for d in deadlines), default=0.0)
    for d in deadlines:
        if d.severity == state.severity:
            threshold = d.after
    yield Decision(None, max(done_at - start, 0.0) / unit, threshold / unit, done_at)


def advance(
    state: WarningState, start: float, deadlines: list[Deadline], until: float, unit: float
) -> list[Transition]:
    """Apply every crossing in (last change, until) to `state` (crossings); the transitions."""
    return apply(state, crossings(state, start, deadlines, until, unit))[0]


def stop(
    state: WarningState, start: float, deadlines: list[Deadline], done_at: float, unit: float
) -> list[Transition]:
    """Apply `stopping` to `state`; the transitions."""
    return apply(state, stopping(state, start, deadlines, done_at, unit))[0]


def next_due(start: float, deadlines: list[Deadline], after: float) -> float | None:
    """The first clock time at which a crossing not decided at `after` is, or None when all are.

    Just past the crossing (the next float): at the crossing itself it is not exceeded yet.
    """
    for offset, _, _ in worked_out(deadlines, None, _schedule):  # offsets in order: the first due is the earliest
        at = start + offset
        if at >= after:
            return math.nextafter(at, math.inf)
    return None


@dataclass(frozen=True, slots=True)
class Point:
    """At `at`, the condition calls for `severity` (None: clear)."""

    at: float
    severity: str | None
    value: float
    threshold: float


def replaying(state: WarningState, points: list[Point], until: float) -> Decisions[float | None]:
    """A rule's timeline of points up to `until`; returns the next point's time.

    For rules whose whole timeline follows from the facts (an outage notice
    that comes too late, a start without notice): points already applied,
    at or before the warning's last change, are skipped, so re-evaluation
    changes nothing.
    """
    for p in sorted(points, key=lambda p: p.at):
        if p.at > until:
            return p.at
        if state.changed_at is not None and p.at <= state.changed_at:
            continue
        yield Decision(p.severity, p.value, p.threshold, p.at)
    return None


def replay(state: WarningState, points: list[Point], until: float) -> tuple[list[Transition], float | None]:
    """Apply `replaying` to `state`; the transitions and the next point's time."""
    return apply(state, replaying(state, points, until))
