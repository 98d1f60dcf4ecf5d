"""What is stored: the shapes of a subject's state and of a notification group's state.

Both stay plain dicts at run time (they are table values, read and written as JSON);
the TypedDicts below say what each key holds. Each shape carries a version `v`, and
`migrate_subject` / `migrate_group` are the only places that know an older shape: every
state is brought to the current one when it is read, so no other code keeps a
compatibility branch. A change to a shape bumps its version and adds one step here.

A subject's state is changed by one event, tick or acknowledgement at a time, through a
`Transaction`: the warning states it moves are collected and written back once, and it
records whether anything stored changed (a tick that changed nothing is not written again).
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

import orjson

from .fingerprint import DIGEST_CHARS, id_digest
from .warning_state import WarningState

SUBJECT_VERSION = 2
GROUP_VERSION = 1


class WarningStateDict(TypedDict):
    """One rule's warning about a subject (WarningState.to_dict)."""

    status: Literal["inactive", "pending", "firing"]
    severity: str | None
    pending_since: float | None
    first_fired_at: float | None
    changed_at: float | None
    value: float | None
    seq: int
    changes: list[float]
    bump: int
    acked_by: str | None
    acked_at: float | None


class WindowState(TypedDict):
    """An event-time window's buckets (windows.Window.new_state)."""

    b: dict[str, object]  # bucket start (repr of its epoch seconds) -> aggregation state
    evaluated: float | None  # the last window end decided
    late: int  # observations dropped because their window was decided


# rule id -> [quiet until (None: until an event reaches it), its last wake time, its running flag,
#            the time it was evaluated at (engine.UNKNOWN_CLOCK: a clock not known yet), the digest of the
#            rule's configuration then]
RuleNext = list


class SubjectState(TypedDict):
    """One subject's state (engine.new_state): facts, rule states, warnings, bookkeeping."""

    v: int  # SUBJECT_VERSION
    kind: str  # ticket, outage, account, district, feeder, staff
    facts: dict  # what the subject's fold made of its events (subjects/*); facts["derived"]: {name: 1}
    rules: dict[str, dict]  # rule id -> the rule's own state (its WindowState under "w", ...)
    warnings: dict[str, WarningStateDict]  # rule id -> its warning
    recent: str  # digests of the last arrivals' event ids, oldest first
    dated: dict[str, str]  # hour (repr of its epoch seconds) -> digests of events dated in it
    last_ts: float  # the newest event time applied
    next: dict[str, RuleNext]  # incremental evaluation: when each rule can next decide something
    size: NotRequired[int]  # encoded bytes when last measured
    grown: NotRequired[int]  # changes since
    p: NotRequired[int]  # the work partition that owns it (set by the shell)


class GroupState(TypedDict):
    """One notification group's state (notify.new_group_state)."""

    v: int  # GROUP_VERSION
    seen: str  # digests of the warning ids already handled, oldest first
    window_start: float | None
    sent: int
    pending: dict | None
    summary_seq: int
    fps: dict[str, dict]


def migrate_subject(state: dict) -> SubjectState:
    """Bring a subject's state of any earlier shape to the current one, in place."""
    if state.get("v") == SUBJECT_VERSION:
        return state  # type: ignore[return-value]
    if state.get("v") != 1:
        _before_versions(state)
    # Version 1 kept the ids a warning cites without their event times: kept, with the time not known
    evidence = state.get("facts", {}).get("evidence", {})
    for event_type, cite in evidence.items():
        if isinstance(cite, str):
            evidence[event_type] = [cite, None]
    for rstate in state.get("rules", {}).values():
        if rstate.get("ev") and isinstance(rstate["ev"][0], str):
            rstate["ev"] = [[cite, None] for cite in rstate["ev"]]
    state["v"] = SUBJECT_VERSION
    return state  # type: ignore[return-value]


def _before_versions(state: dict) -> None:
    # Before versions: the id memory was a list (of digests, and of full ids before those),
    recent = state.get("recent", "")
    if isinstance(recent, list):
        state["recent"] = "".join(d for d in recent if len(d) == DIGEST_CHARS)
    # the dated id memory did not exist,
    state.setdefault("dated", {})
    # and the names of the events a subject derived were a list.
    derived = state.get("facts", {}).get("derived")
    if isinstance(derived, list):
        state["facts"]["derived"] = dict.fromkeys(derived, 1)
    state.setdefault("next", {})


def migrate_group(state: dict) -> GroupState:
    """Bring a notification group's state of any earlier shape to the current one, in place."""
    if state.get("v") == GROUP_VERSION:
        return state  # type: ignore[return-value]
    seen = state.get("seen", "")
    if isinstance(seen, list):  # before versions: the warning ids themselves
        state["seen"] = "".join(map(id_digest, seen))
    state["v"] = GROUP_VERSION
    return state  # type: ignore[return-value]


class Transaction:
    """The changes one event, tick or acknowledgement makes to a subject's warnings.

    A warning state is read once (`warning`), changed by the warning state machine, and
    written back with the others by `commit`. With `watch`, the transaction also notes
    whether a rule's own state moved (`touch` before its evaluation, `check` after), so
    that `changed` says whether anything stored is different.
    """

    __slots__ = ("state", "watch", "changed", "_warnings", "_written", "_before")

    def __init__(self, state: dict, watch: bool = False):
        self.state = state
        self.watch = watch
        self.changed = False
        self._warnings: dict[str, WarningState] = {}
        self._written: set[str] = set()  # warnings written back whatever their status
        self._before: dict[str, bytes] = {}

    def warning(self, rule_id: str, written: bool = False) -> WarningState:
        """A rule's warning state to change; `written`: write it back even if inactive and never fired
        (an acknowledgement, a close, a rule disabled while firing)."""
        ws = self._warnings.get(rule_id)
        if ws is None:
            ws = self._warnings[rule_id] = WarningState.from_dict(self.state["warnings"].get(rule_id))
        if written:
            self._written.add(rule_id)
        return ws

    def read(self, rule_id: str) -> WarningState:
        """A rule's warning state to evaluate: written back only if `keep` is called (or it was read
        for a change before); one the evaluation left as it was needs no writing."""
        ws = self._warnings.get(rule_id)
        if ws is None:
            stored = self.state["warnings"].get(rule_id)
            ws = WarningState(**stored) if stored else WarningState()
        return ws

    def keep(self, rule_id: str, ws: WarningState) -> None:
        """Write back a warning state `read` gave and the evaluation changed."""
        self._warnings[rule_id] = ws

    def touch(self, rule_id: str, rstate: dict) -> None:
        """About to change a rule's own state: remember it, if watching and nothing changed yet."""
        if self.watch and not self.changed:
            self._before[rule_id] = orjson.dumps(rstate)

    def check(self, rule_id: str, rstate: dict) -> None:
        before = self._before.pop(rule_id, None)
        if before is not None and not self.changed and orjson.dumps(rstate) != before:
            self.changed = True

    def commit(self) -> None:
        """Write the warning states read: those with a record, and those that ever fired or are not
        inactive (a quiet one needs no record). A pending warning that cleared before it fired is
        written too: left as it was, it would fire at once when its condition came back."""
        stored = self.state["warnings"]
        for rule_id, ws in self._warnings.items():
            if ws.seq or ws.status != "inactive" or rule_id in self._written or rule_id in stored:
                new = ws.to_dict()
                if self.watch and not self.changed and new != stored.get(rule_id):
                    self.changed = True
                stored[rule_id] = new
        self._warnings.clear()
        self._written.clear()
