"""The warning state machine: one instance per fingerprint.

Owns the life of a warning (inactive -> pending -> firing -> resolved) and
decides which evaluations are state changes worth publishing. Rules decide
*what severity the condition has now* (including their own hysteresis); this
module decides *whether that is news*. Times are epoch seconds, passed in.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Literal, TypeVar

SEVERITIES = ("blue", "yellow", "orange", "red")
RANK = {s: i for i, s in enumerate(SEVERITIES)}

Kind = Literal["raised", "escalated", "de-escalated", "resolved"]


def higher(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if RANK[a] >= RANK[b] else b


@dataclass(slots=True)
class WarningState:
    # inactive: the condition does not hold (never fired, or resolved).
    # pending:  the condition holds but not yet for the rule's `for` duration.
    # firing:   raised and published; stays so until the condition clears.
    status: Literal["inactive", "pending", "firing"] = "inactive"
    severity: str | None = None
    pending_since: float | None = None
    first_fired_at: float | None = None
    changed_at: float | None = None
    value: float | None = None
    seq: int = 0  # state changes published so far; numbers the warning ids
    changes: list[float] = field(default_factory=list)  # recent change times, for flapping
    bump: int = 0  # severities added because the warning was left unacknowledged
    acked_by: str | None = None
    acked_at: float | None = None

    @classmethod
    def from_dict(cls, d: dict | None) -> WarningState:
        return cls(**d) if d else cls()

    def to_dict(self) -> dict:
        # by hand: dataclasses.asdict deep-copies every field and was a fifth of the engine's time
        return {"status": self.status, "severity": self.severity, "pending_since": self.pending_since,
                "first_fired_at": self.first_fired_at, "changed_at": self.changed_at, "value": self.value,
                "seq": self.seq, "changes": list(self.changes), "bump": self.bump,
                "acked_by": self.acked_by, "acked_at": self.acked_at}


@dataclass(frozen=True, slots=True)
class Transition:
    """A published state change of one warning."""

    kind: Kind
    severity: str  # for a resolved warning: the severity it had when it cleared
    previous_severity: str | None
    at: float
    value: float
    threshold: float
    first_fired_at: float
    seq: int
    # "unacknowledged" for an escalation by the acknowledgement clock; on a resolve, why it
    # was closed whatever its value ("max_open_days")
    reason: str | None = None
    no_samples: bool = False  # resolved because its window emptied: `value` (0) stands for nothing

    @property
    def status(self) -> str:
        return "resolved" if self.kind == "resolved" else "firing"

    @property
    def duration_seconds(self) -> float | None:
        return self.at - self.first_fired_at if self.kind == "resolved" else None


FLAP_HISTORY = 10  # change times kept per warning


@dataclass(slots=True)  # not frozen: a frozen init sets each field through object.__setattr__, and
class Decision:          # rules make one per window end; nothing changes one after it is made
    """What a rule's condition calls for at `at` (target None: clear); `apply` moves the warning."""

    target: str | None
    value: float
    threshold: float
    at: float
    for_seconds: float = 0.0
    no_samples: bool = False  # the window emptied: the warning forgets its value, a resolve says why


R = TypeVar("R")
# A rule's decisions, one at a time: each is sent back the transition it made (or None), and
# the warning state read between two of them is the one the decisions so far left.
Decisions = Generator[Decision, "Transition | None", R]


FIELDS = tuple(WarningState.__slots__)
_snapshot = attrgetter(*FIELDS)  # every field at once, as a tuple (`changes` is replaced, never changed in place)


def apply(state: WarningState, decisions: Decisions[R]) -> tuple[list[Transition], R]:
    """Move `state` through the warning state machine as `decisions` ask; (transitions, what they return).

    The one place a rule's judgement becomes a change of its warning: rules yield decisions
    and read the warning state, they never change it.

    A warning raised and resolved at the same instant never was: both are withdrawn, and the
    state is put back as it was before the raise (the next raise takes the number this one
    would have had).
    """
    out, value, _ = applied(state, decisions)
    return out, value


def applied(state: WarningState, decisions: Decisions[R]) -> tuple[list[Transition], R, bool]:
    """As `apply`, and whether any decision was made (none: `state` is as it was)."""
    out: list[Transition] = []
    before: tuple | None = None  # the state before the last transition, while that is a raise
    made = False
    try:
        d = next(decisions)
        made = True
        while True:
            # only a decision with a target can raise: the state before it, to put back if withdrawn
            saved = _snapshot(state) if d.target is not None and state.status != "firing" else None
            t = step(state, d.target, value=d.value, threshold=d.threshold, at=d.at, for_seconds=d.for_seconds)
            if d.no_samples:
                state.value = None
                if t is not None:
                    t = replace(t, no_samples=True)
            if t is not None:
                if (t.kind == "resolved" and before is not None and out and out[-1].kind == "raised"
                        and out[-1].at == t.at):
                    out.pop()
                    _restore(state, before)
                    before = None
                    d = decisions.send(None)
                    continue
                before = saved if t.kind == "raised" else None
                out.append(t)
            d = decisions.send(t)
    except StopIteration as stop:
        return out, stop.value, made


def _restore(state: WarningState, saved: tuple) -> None:
    for name, value in zip(FIELDS, saved):
        setattr(state, name, value)


def step(
    state: WarningState,
    target: str | None,
    *,
    value: float,
    threshold: float,
    at: float,
    for_seconds: float = 0.0,
) -> Transition | None:
    """Move `state` towards `target` severity (None: condition clear) at time `at`.

    Returns the transition to publish, or None when nothing a consumer needs
    to hear about happened (still pending, unchanged severity, never fired).
    """
    state.value = value
    if target is not None and state.bump:
        target = SEVERITIES[min(RANK[target] + state.bump, len(SEVERITIES) - 1)]
    if target is None:
        if state.status == "firing":
            return _change(state, "resolved", state.severity, value, threshold, at, clear=True)
        state.status, state.severity, state.pending_since = "inactive", None, None
        return None

    if state.status == "inactive":
        state.status, state.pending_since = "pending", at
    if state.status == "pending":
        if at - state.pending_since < for_seconds:
            state.severity = target
            return None
        state.first_fired_at = at
        return _change(state, "raised", target, value, threshold, at)
    if target == state.severity:
        return None
    kind: Kind = "escalated" if RANK[target] > RANK[state.severity] else "de-escalated"
    return _change(state, kind, target, value, threshold, at)


def _change(state, kind, severity, value, threshold, at, clear=False, reason=None) -> Transition:
    previous = None if kind == "raised" else state.severity
    state.seq += 1
    state.changed_at = at
    state.changes = (state.changes + [at])[-FLAP_HISTORY:]
    transition = Transition(
        kind=kind,
        severity=severity,
        previous_severity=previous if kind != "resolved" else None,
        at=at,
        value=value,
        threshold=threshold,
        first_fired_at=state.first_fired_at,
        seq=state.seq,
        reason=reason,
    )
    if clear:
        state.status, state.severity, state.pending_since = "inactive", None, None
        state.first_fired_at = None
        state.bump, state.acked_by, state.acked_at = 0, None, None
    else:
        state.status, state.severity = "firing", severity
    return transition


def escalate_unacknowledged(state: WarningState, at: float) -> Transition | None:
    """Raise a firing, unacknowledged warning one severity (it stays there until it clears)."""
    if state.status != "firing" or state.acked_at is not None or RANK[state.severity] >= len(SEVERITIES) - 1:
        return None
    state.bump += 1
    return _change(state, "escalated", SEVERITIES[RANK[state.severity] + 1], state.value or 0.0,
                   state.value or 0.0, at, reason="unacknowledged")


def close(state: WarningState, at: float, reason: str) -> Transition | None:
    """Resolve a firing warning whatever its value says (its subject was closed); None if not firing."""
    if state.status != "firing":
        state.status, state.severity, state.pending_since = "inactive", None, None
        return None
    return _change(state, "resolved", state.severity, state.value or 0.0, state.value or 0.0,
                   max(at, state.changed_at or at), clear=True, reason=reason)


def acknowledge(state: WarningState, by: str, at: float) -> bool:
    """Record the operations centre's acknowledgement; False if there is nothing firing to acknowledge."""
    if state.status != "firing" or state.acked_at is not None:
        return False
    state.acked_by, state.acked_at = by, at
    return True
