"""The engine: applies an event or a clock tick to one state key.

A state key holds one entity (a ticket, an outage), the state of every
warning about it, and when it was last touched. The engine folds the event
into the entity, lets each enabled rule of that entity kind say where its
clock stands, moves the warning states, and renders the state changes as
warning messages. It returns the new state, the messages, and when the key
next needs a tick. The shell persists and publishes; it decides nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import deadlines
from .entities import FOLDS, remember_evidence
from .fingerprint import fingerprint, warning_id
from .rulebook import RuleBook, RuleConfig
from .timefmt import to_rfc3339
from .warning_state import Transition, WarningState, step

DAY = 86400.0


@dataclass
class Result:
    state: dict | None  # None: the key is finished and can be deleted
    warnings: list[dict] = field(default_factory=list)
    wake_at: float | None = None  # when the key next needs a tick


class Engine:
    def __init__(self, rulebook: RuleBook, retention_seconds: float = 7 * DAY):
        # Finished entities are kept this long so that a redelivered or very
        # late event finds them and does not start a stale clock again.
        self.rulebook = rulebook
        self.retention = retention_seconds

    def on_event(self, state: dict | None, event: dict, ts: float, now: float) -> Result:
        kind = event["type"].split(".", 1)[0]
        state = state or {"kind": kind, "entity": {}, "warnings": {}, "last_ts": ts}
        FOLDS[kind](state["entity"], event, ts)
        remember_evidence(state["entity"], event)
        state["last_ts"] = max(state["last_ts"], ts)
        return self._evaluate(state, max(ts, now))

    def on_tick(self, state: dict, now: float) -> Result:
        return self._evaluate(state, now)

    def _evaluate(self, state: dict, now: float) -> Result:
        entity, stored = state["entity"], state["warnings"]
        out: list[dict] = []
        wakes: list[float] = []
        running = False
        for rc in self.rulebook.by_entity.get(state["kind"], ()):
            district = entity.get("district_id")
            ws = WarningState.from_dict(stored.get(rc.rule.rule_id))
            clock = rc.rule.clock(entity) if rc.enabled_for(district) else None
            if clock is None:
                if ws.status == "firing":  # disabled while firing: clear it, not leave it forever
                    t = step(ws, None, value=ws.value or 0.0, threshold=0.0, at=now)
                    out.append(self._render(rc, entity, t))
                    stored[rc.rule.rule_id] = ws.to_dict()
                continue
            start, done = clock
            plan = rc.rule.deadlines(entity, rc.params_for(district))
            unit = rc.rule.unit_seconds
            if done is not None:
                transitions = deadlines.stop(ws, start, plan, done, unit)
            else:
                transitions = deadlines.advance(ws, start, plan, now, unit)
                due = deadlines.next_due(start, plan, now)
                if due is not None:
                    wakes.append(due)
                running = True
            out.extend(self._render(rc, entity, t) for t in transitions)
            if ws.seq or ws.status != "inactive":
                stored[rc.rule.rule_id] = ws.to_dict()
        if not running:
            expires = state["last_ts"] + self.retention
            if now >= expires:
                return Result(None, out)
            wakes.append(expires)
        return Result(state, out, min(wakes) if wakes else None)

    def _render(self, rc: RuleConfig, entity: dict, t: Transition) -> dict:
        rule = rc.rule
        fp = fingerprint(rule.rule_id, rule.identity(entity))
        summary, summary_zh = rule.summaries(entity, t)
        message = {
            "warning_id": warning_id(fp, t.seq),
            "fingerprint": fp,
            "rule_id": rule.rule_id,
            "risk_category": rule.category,
            "status": t.status,
            "transition": t.kind,
            "severity": t.severity,
            "scope": rule.scope(entity),
            "metric": {
                "name": rule.metric,
                "value": round(t.value, 3),
                "threshold": round(t.threshold, 3),
                "unit": rule.unit,
            },
            "first_fired_at": to_rfc3339(t.first_fired_at),
            "changed_at": to_rfc3339(t.at),
            "summary": summary,
            "summary_zh": summary_zh,
            "response_plan": rc.response_plan,
            "evidence": rule.evidence(entity),
            "suppressed": False,
            "acknowledged": False,
        }
        if t.previous_severity is not None:
            message["previous_severity"] = t.previous_severity
        if t.kind == "resolved":
            message["resolved_at"] = to_rfc3339(t.at)
            message["duration_seconds"] = round(t.duration_seconds, 3)
        return message
