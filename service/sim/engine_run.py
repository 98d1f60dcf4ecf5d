"""Runs an event stream through the in-memory engine, as the Faust shell would.

The shell the Faust agents use (service/shell.py) on in-memory parts: every
input event is validated against the contract, routed to its subjects,
derived events are delivered at once (every partition is owned here), and
the clock ticks at every minute of event time (ticks where no key is due are
skipped: they would change nothing). Each warning message gets
`detected_at`, the event-time clock when the engine produced it, so the
quality report can tell a transition's stamped time from when it was seen.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import yaml

from schemas import read_event

from ..batch import Batch
from ..core.engine import Engine
from ..core.reference import load_reference
from ..core.rulebook import RuleBook
from ..core.subjects import routes
from ..core.timefmt import to_rfc3339
from ..shell import MemoryStorm, drive, memory_shell

RULES_FILE = Path(__file__).parents[1] / "defaults" / "rules.yaml"
DAY = 86400.0
TICK = 60.0


def shipped_rulebook() -> RuleBook:
    return RuleBook.from_mapping(yaml.safe_load(RULES_FILE.read_text()), str(RULES_FILE))


class EngineRun:
    def __init__(self, rulebook: RuleBook | None = None, reference: dict | None = None,
                 retention_seconds: float = 7 * DAY, tick: float = TICK):
        districts = load_reference(reference, "simulated reference") if reference else {}
        self.storm = MemoryStorm()  # district -> in storm mode, kept by the shell
        self.engine = Engine(rulebook or shipped_rulebook(), retention_seconds=retention_seconds,
                             districts=districts, storm_districts=self.storm)
        self.tick = tick
        self.shell = memory_shell(self.engine, on_warning=self._seen, storm=self.storm)  # the Faust agents' shell
        self.states = self.shell.store
        self.warnings = self.shell.publisher.sent
        self.events = 0

    @property
    def now(self) -> float:
        return self.shell.clocks.now

    @property
    def late(self) -> int:
        return self.shell.late

    def _step(self, step) -> None:
        batch = Batch()
        drive(step(batch))
        drive(self.shell.finish(batch))

    # --- input --------------------------------------------------------------------

    def send(self, event: dict) -> None:
        body, ts = read_event(json.dumps(event).encode())  # what the shell's ingest does
        self.advance(math.floor(ts / self.tick) * self.tick)
        self.events += 1
        self._step(lambda batch: self.shell.on_input(routes(body), body, ts, batch))

    # --- clock --------------------------------------------------------------------

    def advance(self, until: float) -> None:
        """Tick every minute up to `until`, visiting only the minutes at which some key is due.

        A key woken for a minute already ticked waits for the next tick, as in the shell.
        """
        while (wake := self.shell.wakeups.next_at(0)) is not None:
            minute = math.ceil(wake / self.tick) * self.tick
            if self.now > -math.inf:
                minute = max(minute, self.now + self.tick)
            if minute > until:
                break
            self.shell.clocks.now = minute
            self._step(lambda batch: self.shell.run_clock(0, minute, batch))  # noqa: B023 (run at once)
        self.shell.clocks.now = max(self.now, until)

    def _seen(self, w: dict) -> None:
        w["detected_at"] = to_rfc3339(self.now) if self.now > -math.inf else None


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
