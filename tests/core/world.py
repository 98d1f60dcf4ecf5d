"""The shell the Faust agents use (service/shell.py), on in-memory parts, for rule tests.

Input events are routed to their subjects, derived events are delivered to
theirs, and ticks evaluate every key that is due, all in memory with time
passed in. Rule tests use it to go from events to warning messages.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from service.batch import Batch
from service.core.engine import Engine
from service.core.rulebook import RuleBook
from service.core.subjects import routes
from service.core.timefmt import to_epoch, to_rfc3339
from service.shell import drive, memory_shell

RULES_FILE = Path(__file__).parents[2] / "service" / "defaults" / "rules.yaml"
T0 = to_epoch("2026-11-27T08:00:00+00:00")
MIN = 60.0
HOUR = 3600.0
DAY = 86400.0


def default_rules() -> dict:
    return yaml.safe_load(RULES_FILE.read_text())


def rulebook(only: list[str] | None = None, **overrides) -> RuleBook:
    """The shipped rules, optionally only some of them, with entries updated by `overrides`."""
    data = default_rules()
    if only is not None:
        data["rules"] = {k: v for k, v in data["rules"].items() if k in only}
    for rule_id, entry in overrides.items():
        data["rules"][rule_id] = {**data["rules"][rule_id], **entry}
    return RuleBook.from_mapping(data, str(RULES_FILE))


def at(minute: float) -> str:
    return to_rfc3339(T0 + minute * MIN)


class World:
    """The shell (service/shell.py) on in-memory parts, its clock set by the test."""

    def __init__(self, book: RuleBook | None = None, retention_seconds: float = 7 * DAY):
        self.engine = Engine(book or rulebook(), retention_seconds=retention_seconds)
        self.shell = memory_shell(self.engine)
        self.states = self.shell.store
        self.warnings = self.shell.publisher.sent
        self._n = 0
        apply = self.shell.apply

        async def watched(key, partition, result, batch):
            self._take(key, result)
            await apply(key, partition, result, batch)

        self.shell.apply = watched

    def _take(self, key: str, result) -> None:
        """Sees every result the shell applies (a test may replace it to watch them)."""

    @property
    def now(self) -> float:
        return self.shell.clocks.now

    @property
    def late(self) -> int:
        return self.shell.late

    @property
    def wakes(self) -> dict[str, float]:
        return {k: t for heap in self.shell.wakeups._by_partition[0] for k, t in heap.at.items()}

    def _step(self, step) -> None:
        batch = Batch()
        drive(step(batch))
        drive(self.shell.finish(batch))

    def send(self, type_: str, minute: float, **fields) -> None:
        """An input event at T0 + minute."""
        self._n += 1
        event = {"type": type_, "event_id": fields.pop("event_id", f"e{self._n}"), **fields}
        self._step(lambda batch: self.shell.on_input(routes(event), event, T0 + minute * MIN, batch))

    def ack(self, key: str, rule_id: str, minute: float, by: str = "duty-officer") -> None:
        """The operations centre acknowledges the subject's warning of `rule_id` at T0 + minute."""
        ack = {"rule_id": rule_id, "by": by, "at": T0 + minute * MIN, "fingerprint": None, "ack_id": None}
        self._step(lambda batch: self.shell.on_ack(key, 0, ack, batch))

    def tick(self, minute: float) -> None:
        """The clock reaches T0 + minute."""
        self.shell.clocks.now = max(self.now, T0 + minute * MIN)
        self._step(lambda batch: self.shell.run_clock(0, self.now, batch))

    def run(self, until_minute: float, every: float = 1.0) -> None:
        """Tick every `every` minutes up to `until_minute` (from the current clock)."""
        start = (self.now - T0) / MIN if self.now > float("-inf") else 0.0
        m = start
        while m <= until_minute:
            self.tick(m)
            m += every

    def timeline(self, rule_id: str | None = None) -> list[tuple[str, str, str]]:
        return [(w["transition"], w["severity"], w["changed_at"]) for w in self.warnings
                if rule_id is None or w["rule_id"] == rule_id]

    def of(self, rule_id: str) -> list[dict]:
        return [w for w in self.warnings if w["rule_id"] == rule_id]
