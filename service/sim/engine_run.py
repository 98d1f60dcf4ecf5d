"""Runs an event stream through the in-memory engine, as the Faust shell would.

Adapted from tests/core/world.py: every input event is validated against the
contract, routed to its subjects, derived events are delivered at once, and
the clock ticks at every minute of event time (ticks where no key is due are
skipped: they would change nothing). Each warning message gets
`detected_at`, the event-time clock when the engine produced it, so the
quality report can tell a transition's stamped time from when it was seen.
"""

from __future__ import annotations

import heapq
import json
import math
import sys
import time
from pathlib import Path

import yaml

from schemas.events import parse_event

from ..core.engine import Engine
from ..core.reference import load_reference
from ..core.rulebook import RuleBook
from ..core.subjects import routes
from ..core.timefmt import to_rfc3339

RULES_FILE = Path(__file__).parents[1] / "defaults" / "rules.yaml"
DAY = 86400.0
TICK = 60.0
STORM_RULE = "reliability.storm_mode"


def shipped_rulebook() -> RuleBook:
    return RuleBook.from_mapping(yaml.safe_load(RULES_FILE.read_text()), str(RULES_FILE))


class EngineRun:
    def __init__(self, rulebook: RuleBook | None = None, reference: dict | None = None,
                 retention_seconds: float = 7 * DAY, tick: float = TICK):
        districts = load_reference(reference, "simulated reference") if reference else {}
        self.storm: dict[str, bool] = {}
        self.engine = Engine(rulebook or shipped_rulebook(), retention_seconds=retention_seconds,
                             districts=districts, storm_districts=lambda: {d for d, on in self.storm.items() if on})
        self.tick = tick
        self.states: dict[str, dict] = {}
        self.wakes: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self.warnings: list[dict] = []
        self.now = -math.inf
        self.events = 0
        self.late = 0

    # --- input --------------------------------------------------------------------

    def send(self, event: dict) -> None:
        parsed = parse_event(json.dumps(event).encode())  # what the shell's ingest does
        body = parsed.model_dump(mode="json", exclude_none=True)
        ts = parsed.occurred_at.timestamp()
        self.advance(math.floor(ts / self.tick) * self.tick)
        self.events += 1
        for key in routes(body):
            self._apply(key, body, ts)

    def _apply(self, key: str, event: dict, ts: float) -> None:
        r = self.engine.on_event(key, self.states.get(key), event, ts, self.now)
        if r.duplicate:
            return
        self.late += r.late
        self._take(key, r)
        for target, derived in r.derived:
            self._apply(target, derived, derived["ts"])

    # --- clock --------------------------------------------------------------------

    def advance(self, until: float) -> None:
        """Tick every minute up to `until`, visiting only the minutes at which some key is due.

        A key woken for a minute already ticked waits for the next tick, as in the shell.
        """
        while self._heap:
            wake, key = self._heap[0]
            if self.wakes.get(key) != wake or key not in self.states:
                heapq.heappop(self._heap)  # superseded
                continue
            minute = math.ceil(wake / self.tick) * self.tick
            if self.now > -math.inf:
                minute = max(minute, self.now + self.tick)
            if minute > until:
                break
            self.now = minute
            due = set()
            while self._heap and self._heap[0][0] <= minute:
                w, k = heapq.heappop(self._heap)
                if self.wakes.get(k) == w:
                    due.add(k)
            for k in sorted(due):
                self.wakes.pop(k, None)  # popped from the heap: _take sets it again if still needed
                if k in self.states:
                    self._take(k, self.engine.on_tick(self.states[k], minute))
        self.now = max(self.now, until)

    def _take(self, key: str, r) -> None:
        if r.state is None:
            self.states.pop(key, None)
            self.wakes.pop(key, None)
        else:
            self.states[key] = r.state
            if r.wake_at is None:
                self.wakes.pop(key, None)
            elif self.wakes.get(key) != r.wake_at:
                self.wakes[key] = r.wake_at
                heapq.heappush(self._heap, (r.wake_at, key))
        detected = to_rfc3339(self.now) if self.now > -math.inf else None
        for w in r.warnings:
            w["detected_at"] = detected
            if w["rule_id"] == STORM_RULE and "district_id" in w["scope"]:
                self.storm[w["scope"]["district_id"]] = w["status"] == "firing"
        self.warnings += r.warnings


def run_stream(stream, reference: dict | None = None, until: float | None = None,
               rulebook: RuleBook | None = None, progress: bool = False) -> EngineRun:
    """Feed (ts, role, key, event) tuples in order, then let the clock run to `until`."""
    run = EngineRun(rulebook, reference)
    started, n = time.monotonic(), len(stream)
    for i, (_, _, _, event) in enumerate(stream, 1):
        run.send(event)
        if progress and (i % 2000 == 0 or i == n):
            rate = i / max(time.monotonic() - started, 1e-9)
            print(f"\r  engine: {i}/{n} events, {len(run.warnings)} warning messages, {rate:,.0f} events/s",
                  end="", file=sys.stderr, flush=True)
    if progress and n:
        print(file=sys.stderr)
    if until is not None:
        run.advance(math.floor(until / run.tick) * run.tick)
    return run
