"""The warning state machine: one instance per fingerprint.

Owns the life of a warning (inactive -> pending -> firing -> resolved) and
decides which evaluations are state changes worth publishing. Rules decide
*what severity the condition has now* (including their own hysteresis); this
module decides *whether that is news*. Times are epoch seconds, passed in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

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

    @classmethod
    def from_dict(cls, d: dict | None) -> WarningState:
        return cls(**d) if d else cls()

    def to_dict(self) -> dict:
        return asdict(self)


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

    @property
    def status(self) -> str:
        return "resolved" if self.kind == "resolved" else "firing"

    @property
    def duration_seconds(self) -> float | None:
        return self.at - self.first_fired_at if self.kind == "resolved" else None


FLAP_HISTORY = 10  # change times kept per warning


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


def _change(state, kind, severity, value, threshold, at, clear=False) -> Transition:
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
    )
    if clear:
        state.status, state.severity, state.pending_since = "inactive", None, None
        state.first_fired_at = None
    else:
        state.status, state.severity = "firing", severity
    return transition
