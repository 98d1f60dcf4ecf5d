"""A test double of the Faust shell: drives the engine exactly as the agents do.

Input events are routed to their subjects, derived events are delivered to
theirs, and ticks evaluate every key that is due, all in memory with time
passed in. Rule tests use it to go from events to warning messages.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from service.core.engine import Engine
from service.core.rulebook import RuleBook
from service.core.subjects import routes
from service.core.timefmt import to_epoch, to_rfc3339

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
    def __init__(self, book: RuleBook | None = None, retention_seconds: float = 7 * DAY):
        self.engine = Engine(book or rulebook(), retention_seconds=retention_seconds)
        self.states: dict[str, dict] = {}
        self.wakes: dict[str, float] = {}
        self.warnings: list[dict] = []
        self.now = float("-inf")
        self.late = 0
        self._n = 0

    def send(self, type_: str, minute: float, **fields) -> None:
        """An input event at T0 + minute."""
        self._n += 1
        event = {"type": type_, "event_id": fields.pop("event_id", f"e{self._n}"), **fields}
        ts = T0 + minute * MIN
        for key in routes(event):
            self._apply(key, event, ts)

    def _apply(self, key: str, event: dict, ts: float) -> None:
        r = self.engine.on_event(key, self.states.get(key), event, ts, self.now)
        if r.duplicate:
            return
        self.late += r.late
        self._take(key, r)
        for target, derived in r.derived:
            self._apply(target, derived, derived["ts"])

    def ack(self, key: str, rule_id: str, minute: float, by: str = "duty-officer") -> None:
        """The operations centre acknowledges the subject's warning of `rule_id` at T0 + minute."""
        self._take(key, self.engine.on_ack(self.states[key], rule_id, by, T0 + minute * MIN, self.now))

    def tick(self, minute: float) -> None:
        """The clock reaches T0 + minute."""
        self.now = max(self.now, T0 + minute * MIN)
        for key, wake in sorted(self.wakes.items()):
            if wake <= self.now and key in self.states:
                self._take(key, self.engine.on_tick(self.states[key], self.now))

    def run(self, until_minute: float, every: float = 1.0) -> None:
        """Tick every `every` minutes up to `until_minute` (from the current clock)."""
        start = (self.now - T0) / MIN if self.now > float("-inf") else 0.0
        m = start
        while m <= until_minute:
            self.tick(m)
            m += every

    def _take(self, key: str, r) -> None:
        if r.state is None:
            self.states.pop(key, None)
            self.wakes.pop(key, None)
        else:
            self.states[key] = r.state
            if r.wake_at is None:
                self.wakes.pop(key, None)
            else:
                self.wakes[key] = r.wake_at
        self.warnings += r.warnings

    def timeline(self, rule_id: str | None = None) -> list[tuple[str, str, str]]:
        return [(w["transition"], w["severity"], w["changed_at"]) for w in self.warnings
                if rule_id is None or w["rule_id"] == rule_id]

    def of(self, rule_id: str) -> list[dict]:
        return [w for w in self.warnings if w["rule_id"] == rule_id]
