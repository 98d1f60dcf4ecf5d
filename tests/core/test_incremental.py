"""Incremental evaluation decides exactly what evaluating every rule every time decides."""

from __future__ import annotations

import math
import random

import orjson
import pytest

from bench.mix import encode, mix
from schemas import parse_event
from service.config import DEFAULT_RULES, load_rulebook
from service.core.engine import QUIET_MARGIN, Engine
from service.core.subjects import routes


def _run(engine: Engine, events: list, tick_every: int, rng: random.Random, lag: int | None = None) -> list:
    """Every result the engine gives over the events, derived events and ticks (some early) included.

    Each event is judged at its own time, or with `lag`, as a worker draining a backlog judges it:
    on a clock not known yet (-inf) for the first `lag` events, then on the latest time of the
    events read `lag` before it; every state then goes through JSON, as a table stores it.
    """
    state: dict[str, dict] = {}
    wakes: dict[str, float | None] = {}
    out = []

    def keep(key, result):
        if result.state is None:
            state.pop(key, None)
        elif lag is not None:
            state[key] = orjson.loads(orjson.dumps(result.state))
        else:
            state[key] = result.state
        wakes[key] = result.wake_at
        out.append(orjson.dumps([key, result.warnings, result.wake_at, result.late, result.duplicate,
                                 result.stats, result.derived, result.unchanged, result.state is None],
                                option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS))

    clock = -math.inf
    for i, (body, ts) in enumerate(events):
        if lag is not None and i >= lag:
            clock = max(clock, events[i - lag][1])
        todo = [(key, body, ts) for key in routes(body)]
        while todo:
            key, ev, ets = todo.pop()
            result = engine.on_event(key, state.get(key), ev, ets, ets if lag is None else clock)
            keep(key, result)
            todo += [(target, d, d["ts"]) for target, d in result.derived]
        now = ts if lag is None else clock
        if i % tick_every == 0 and now > -math.inf:
            for key, at in sorted(wakes.items(), key=lambda kv: kv[0]):
                # due keys, and now and then one whose time has not come (a tick that must change nothing)
                if key in state and ((at is not None and at <= now) or rng.random() < 0.05):
                    keep(key, engine.on_tick(state[key], now))
    for key in sorted(state):
        s = dict(state[key])
        s.pop("next", None)  # the incremental engine's own bookkeeping,
        s.pop("size", None)  # and the encoded size, which counts it
        out.append(orjson.dumps([key, s], option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS))
    return out


def _three_complaints(engine: Engine, base: dict, t0: float) -> dict:
    """District D01's state after three complaints of `base`, a second apart from `t0`."""
    state = None
    for i in range(3):
        event = {"event_id": f"c{i}", "type": "complaint.received", "ts": t0 + i, **base}
        state = engine.on_event("district:D01", state, event, t0 + i, t0 + i).state
    return state


@pytest.mark.parametrize("seed, lag", [(3, None), (4, 1500)], ids=["own-time", "unknown-then-lagging"])
def test_incremental_evaluation_decides_what_evaluating_every_rule_decides(seed, lag):
    """Each event judged at its own time; or as a worker draining a backlog judges them: on a clock not
    known yet at first, then behind the events, every state read back from JSON (a quiet time worked
    out on the unknown clock is kept)."""
    events = []
    for _, _, _, event in mix(6000, 1_795_000_000.0, 6000 / 9, seed):
        parsed = parse_event(encode(event))
        events.append((parsed.model_dump(mode="json", exclude_none=True), parsed.occurred_at.timestamp()))
    full = _run(Engine(load_rulebook(DEFAULT_RULES), incremental=False), events, 40, random.Random(1), lag)
    incremental = _run(Engine(load_rulebook(DEFAULT_RULES)), events, 40, random.Random(1), lag)
    assert len(full) == len(incremental)
    for a, b in zip(full, incremental):
        assert a == b
    assert any(b'"transition"' in line for line in full)  # it did decide warnings


def _spy_on_rules(engine: Engine, kind: str) -> list[str]:
    """The ids of the rules of subjects of `kind` the engine evaluates from now on, in order."""
    evaluated: list[str] = []
    for rc in engine.rulebook.by_subject[kind]:
        original = rc.rule.evaluate

        def spy(*args, _original=original, _id=rc.rule.rule_id):
            evaluated.append(_id)
            return _original(*args)
        rc.rule.evaluate = spy
    return evaluated


def test_rules_found_quiet_on_a_clock_not_known_yet_are_left_quiet_after_a_json_round_trip():
    """A worker's clock is -inf until every input partition has spoken, which on a backlog can last
    long: the district rules that follow the clock are evaluated once then, not on every event."""
    engine = Engine(load_rulebook(DEFAULT_RULES))
    evaluated = _spy_on_rules(engine, "district")
    t0 = 1_795_000_000.0
    base = {"district_id": "D01", "area_type": "urban", "channel": "phone", "category": "billing"}
    state = None
    for i in range(3):
        event = {"event_id": f"c{i}", "type": "complaint.received", "ts": t0 + i, **base}
        state = orjson.loads(orjson.dumps(engine.on_event("district:D01", state, event, t0 + i, -math.inf).state))
    evaluated.clear()
    event = {"event_id": "c9", "type": "complaint.received", "ts": t0 + 10, **base}
    engine.on_event("district:D01", state, event, t0 + 10, -math.inf)
    observers = {rc.rule.rule_id for rc in engine.rulebook.by_subject["district"]
                 if "complaint.received" in rc.rule.observes}
    assert observers and set(evaluated) == observers


def test_a_quiet_time_json_cannot_hold_is_not_kept(monkeypatch):
    """-inf would be read back as None, "quiet until an event reaches it": a decision missed."""
    engine = Engine(load_rulebook(DEFAULT_RULES))
    rc = next(rc for rc in engine.rulebook.by_subject["district"] if rc.rule.rule_id == "complaints.surge")
    monkeypatch.setattr(rc.rule, "quiet_until", lambda *args: -math.inf)
    t0 = 1_795_000_000.0
    event = {"event_id": "c1", "type": "complaint.received", "ts": t0, "district_id": "D01",
             "area_type": "urban", "channel": "phone", "category": "billing"}
    state = engine.on_event("district:D01", None, event, t0, -math.inf).state
    assert "complaints.surge" not in state["next"]
    assert state["next"]  # the others' are kept


def test_an_event_evaluates_only_the_rules_that_observe_it_while_the_others_are_not_due():
    engine = Engine(load_rulebook(DEFAULT_RULES))
    evaluated = _spy_on_rules(engine, "district")
    t0 = 1_795_000_000.0
    base = {"district_id": "D01", "area_type": "urban", "channel": "phone", "category": "billing"}
    state = _three_complaints(engine, base, t0)
    evaluated.clear()
    event = {"event_id": "c9", "type": "complaint.received", "ts": t0 + 10, **base}
    engine.on_event("district:D01", state, event, t0 + 10, t0 + 10)
    observers = {rc.rule.rule_id for rc in engine.rulebook.by_subject["district"]
                 if "complaint.received" in rc.rule.observes}
    assert set(evaluated) == observers
    evaluated.clear()
    result = engine.on_tick(state, t0 + 11)  # nothing is due a second later
    assert evaluated == [] and result.unchanged


def test_a_recent_events_rule_whose_time_has_come_only_to_move_its_horizon_is_moved_not_evaluated():
    """Once a billing-error complaint is decided in (5 min of lateness after it), complaints.billing_errors
    has nothing to decide until the complaint leaves its 7-day window; the clock passing its horizon
    only moves the horizon (Rule.advance). An event it does not observe then neither evaluates it nor
    opens a pass before its fold, and leaves the state and results that evaluating every rule leaves."""
    t0 = 1_795_000_000.0
    complaint = {"event_id": "c1", "type": "complaint.received", "ts": t0, "district_id": "D01",
                 "area_type": "urban", "channel": "phone", "category": "billing_error"}
    full, engine = Engine(load_rulebook(DEFAULT_RULES), incremental=False), Engine(load_rulebook(DEFAULT_RULES))
    states = [e.on_event("district:D01", None, complaint, t0, t0).state for e in (full, engine)]
    evaluated = _spy_on_rules(engine, "district")
    rc = next(rc for rc in engine.rulebook.by_subject["district"] if rc.rule.rule_id == "complaints.billing_errors")
    early = []
    original_evaluate = engine._evaluate

    def spy_early(*args, **kwargs):
        if kwargs.get("before_event"):
            early.append(kwargs.get("plan"))
        return original_evaluate(*args, **kwargs)
    engine._evaluate = spy_early
    for minute in (10, 20, 30, 40):
        if minute == 20:  # the first alarm came after the complaint's time to be decided: it evaluated the rule
            assert evaluated.count("complaints.billing_errors") == 1 and len(early) == 1
            evaluated.clear()
            early.clear()
        t = t0 + minute * 60
        alarm = {"event_id": f"m{minute}", "type": "meter.alarm", "ts": t, "meter_id": f"M{minute}",
                 "district_id": "D01", "alarm": "communication_loss"}
        results = [e.on_event("district:D01", orjson.loads(orjson.dumps(state)), alarm, t, t)
                   for e, state in zip((full, engine), states)]
        states = [r.state for r in results]
        assert results[0].wake_at == results[1].wake_at and results[0].warnings == results[1].warnings
        # the horizon moved as evaluating it moves it: lateness judged against the same time
        assert states[0]["rules"][rc.rule.rule_id] == states[1]["rules"][rc.rule.rule_id]
        assert states[1]["rules"][rc.rule.rule_id]["w"]["evaluated"] == t - rc.params.lateness_minutes * 60
    assert "complaints.billing_errors" not in evaluated
    # a pass before the fold opened only for another rule whose time had come (a window end of meter.alarm_surge)
    assert len(early) < 3 and all(any(entry[2] != rc.rule.rule_id for entry in plan) for plan in early)
    week_later = t0 + 7 * 86400 + 3600  # the complaint has left the window: decided by evaluating it
    engine.on_tick(states[1], week_later)
    assert "complaints.billing_errors" in evaluated


def test_moving_a_recent_events_rules_horizon_leaves_what_evaluating_it_leaves():
    """Rule.advance against evaluate, after enough billing-error complaints in one hour that the oldest
    decided ones are tallied (the tally leaves the window with its newest, later than the first one
    tallied would): the same rule state and kept times, quiet and wake, on every event that finds the
    rule's horizon passed."""
    t0 = 1_795_000_000.0
    engine = Engine(load_rulebook(DEFAULT_RULES))
    base = {"district_id": "D01", "area_type": "urban", "channel": "phone", "category": "billing_error"}
    state = None
    for i in range(30):
        complaint = {"event_id": f"c{i}", "type": "complaint.received", "ts": t0 + i * 60, **base}
        state = engine.on_event("district:D01", state, complaint, t0 + i * 60, t0 + i * 60).state
    rule_id = "complaints.billing_errors"
    advanced = 0
    for minute in range(40, 240, 15):
        t = t0 + minute * 60
        alarm = {"event_id": f"m{minute}", "type": "meter.alarm", "ts": t, "meter_id": f"M{minute}",
                 "district_id": "D01", "alarm": "communication_loss"}
        evaluated = orjson.loads(orjson.dumps(state))
        del evaluated["next"][rule_id]  # nothing kept: evaluated before the fold, as before Rule.advance
        evaluated = engine.on_event("district:D01", evaluated, alarm, t, t).state
        kept = state["next"][rule_id]
        advanced += kept[0] is not None and kept[0] - QUIET_MARGIN <= t < kept[1] - QUIET_MARGIN  # the case advance is for
        state = engine.on_event("district:D01", state, alarm, t, t).state
        assert state["rules"][rule_id] == evaluated["rules"][rule_id]
        assert state["next"][rule_id] == evaluated["next"][rule_id]
    assert "old" in state["rules"][rule_id]["w"]  # some were tallied
    assert advanced >= 5


def test_a_rule_configured_otherwise_since_its_quiet_time_was_worked_out_is_evaluated_again():
    from tests.core.world import default_rules, rulebook

    base = {"district_id": "D01", "area_type": "urban", "channel": "phone", "category": "billing"}
    t0 = 1_795_000_000.0
    hourly = Engine(rulebook())
    state = None
    for i in range(3):
        event = {"event_id": f"s{i}", "type": "survey.completed", "ts": t0 + i, "score": 2,
                 "ticket_id": f"T{i}", **base}
        state = hourly.on_event("district:D01", state, event, t0 + i, t0 + i).state
    params = default_rules()["rules"]["satisfaction.low"]["params"]
    every_minute = Engine(rulebook(**{"satisfaction.low": {"params": {**params, "step_minutes": 1}}}))
    evaluated = []
    rule = next(rc.rule for rc in every_minute.rulebook.by_subject["district"] if rc.rule.rule_id == "satisfaction.low")
    original = rule.evaluate

    def spy(*args):
        evaluated.append(args[3])
        return original(*args)
    rule.evaluate = spy
    # ten minutes on: under the old hourly step nothing is due, under the new one-minute step ends are
    every_minute.on_tick(state, t0 + 600)
    assert evaluated == [t0 + 600]


def test_the_digest_of_a_rules_configuration_is_the_same_in_every_process():
    import os
    import subprocess
    import sys

    code = ("from service.config import DEFAULT_RULES, load_rulebook; from service.core.engine import Engine; "
            "e = Engine(load_rulebook(DEFAULT_RULES)); print([p[6] for k in sorted(e._plan) for p in e._plan[k]])")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(outs) == 1


def test_a_state_evaluated_before_the_clock_is_known_survives_its_json_round_trip():
    """A worker's clock is -inf until its first tick; a quiet time worked out then must not be
    kept as such: JSON has no -inf (orjson writes null), and the next evaluation compared it."""
    engine = Engine(load_rulebook(DEFAULT_RULES))
    t0 = 1_800_000_000.0
    state = None
    for i in range(3):
        event = {"event_id": f"p-{i}", "type": "payment.received", "occurred_at": "2027-01-15T08:00:00Z",
                 "account_id": "A1", "amount": "1.00"}
        result = engine.on_event("account:A1", state, event, t0 + i, float("-inf") if i == 0 else t0 + i)
        state = orjson.loads(orjson.dumps(result.state))  # what the table stores and gives back
    assert engine.on_tick(state, t0 + 10).state is not None


def test_a_rule_evaluated_before_the_event_at_the_same_time_is_not_evaluated_again_after_it():
    engine = Engine(load_rulebook(DEFAULT_RULES))
    evaluated: list[str] = []
    rc = next(rc for rc in engine.rulebook.by_subject["district"] if rc.rule.rule_id == "complaints.billing_errors")
    original = rc.rule.evaluate

    def spy(*args):
        evaluated.append(args[3])  # the clock it was evaluated at
        return original(*args)
    rc.rule.evaluate = spy
    t0 = 1_795_000_000.0
    base = {"district_id": "D01", "area_type": "urban", "channel": "phone", "category": "billing_error"}
    state = _three_complaints(engine, base, t0)
    evaluated.clear()
    # a survey does not reach the billing-error count, but the clock moved its horizon: it is evaluated
    # before the event (the horizon moves before a late event is judged), and not again after it
    survey = {"event_id": "s1", "type": "survey.completed", "district_id": "D01", "area_type": "urban",
              "score": 5, "ts": t0 + 3600}
    engine.on_event("district:D01", state, survey, t0 + 3600, t0 + 3600)
    assert evaluated == [t0 + 3600]


def test_window_ends_that_nothing_enters_or_leaves_after_one_that_moved_nothing_are_decided_without_a_decision():
    from service.core.warning_state import WarningState, apply

    engine = Engine(load_rulebook(DEFAULT_RULES))
    rc = next(rc for rc in engine.rulebook.by_subject["district"] if rc.rule.rule_id == "repair.sla_breach_ratio")
    params, rule = rc.params_for("D01"), rc.rule
    facts = {"district_id": "D01", "area_type": "urban"}
    t0 = 1_795_000_200.0  # on the 5-minute grid
    rstate: dict = {}
    for i in range(12):  # 12 arrivals in the first 5 minutes, one late: 1/12 = 8 %, yellow
        event = {"event_id": f"a{i}", "type": "derived.ticket_arrival", "minutes": 60 if i == 0 else 30,
                 "area_type": "urban"}
        rule.observe(facts, rstate, event, t0 + i, params)
    ws = WarningState()
    seen = []

    def decisions(gen):
        try:
            d = next(gen)
            while True:
                seen.append(d)
                d = gen.send((yield d))
        except StopIteration as stop:
            return stop.value

    # two hours of 5-minute ends: the arrivals' bucket enters at the first, nothing enters or leaves after
    transitions, _ = apply(ws, decisions(rule.evaluate(facts, rstate, ws, t0 + 2 * 3600, params)))
    assert [t.kind for t in transitions] == ["raised"]
    assert rstate["w"]["evaluated"] == t0 + 2 * 3600 - 300  # decided up to the last end due (lateness 5 min)
    # the raise, then the end after it (no transition: the same state from then on), and nothing more
    assert [d.at for d in seen] == [t0 + 300, t0 + 600]
    assert ws.status == "firing" and ws.value == 1 / 12


def _entity_events(rng: random.Random, n: int, t0: float) -> list:
    """Tickets and outages with every event type, in shuffled order and at times around their limits."""
    events = []
    for i in range(n):
        tid, t = f"T{i}", t0 + rng.uniform(0, 12 * 3600)
        ticket = {"ticket_id": tid}
        steps = [("ticket.created", t, {"district_id": "D01", "area_type": rng.choice(["urban", "rural", "remote"]),
                                        "priority": rng.choice(["normal", "urgent"]), "category": "no_power"}),
                 ("ticket.dispatched", t + rng.uniform(1, 40) * 60, {"crew_id": f"C{i % 7}"})]
        arrived = t + rng.uniform(10, 150) * 60
        if rng.random() < 0.7:
            steps.append(("ticket.arrived", arrived, {"crew_id": f"C{i % 7}"}))
        if rng.random() < 0.6:
            done = arrived + rng.uniform(0.5, 14) * 3600
            steps.append(("ticket.completed", done, {"resolution": "fixed"}))
            if rng.random() < 0.5:
                steps.append(("ticket.followed_up", done + rng.uniform(1, 80) * 3600,
                              {"satisfied": rng.random() < 0.5}))
            if rng.random() < 0.3:
                steps.append(("ticket.reopened", done + rng.uniform(1, 48) * 3600, {"reason": "again"}))
        events += [({"event_id": f"{tid}-{j}", "type": kind, **ticket, **extra}, ts)
                   for j, (kind, ts, extra) in enumerate(steps)]
        oid, t = f"O{i}", t0 + rng.uniform(0, 12 * 3600)
        where = {"district_id": "D01", "feeder_id": f"F{i % 3}", "area_type": "urban", "customers_affected": 40}
        steps = [("outage.started", t, {"kind": rng.choice(["unplanned", "planned"]), **where})]
        if rng.random() < 0.6:
            steps.append(("outage.notice_published", t + rng.uniform(2, 40) * 60, {"channel": "sms"}))
        if rng.random() < 0.7:
            steps.append((rng.choice(["outage.restored", "outage.cancelled"]), t + rng.uniform(0.5, 30) * 3600, {}))
        events += [({"event_id": f"{oid}-{j}", "type": kind, "outage_id": oid, **extra}, ts)
                   for j, (kind, ts, extra) in enumerate(steps)]
    rng.shuffle(events)
    events.sort(key=lambda e: e[1] + rng.uniform(-2, 2) * 3600)  # roughly in time order, some hours late
    return events


def test_deadline_rules_left_quiet_by_events_that_move_no_clock_decide_what_evaluating_them_decides():
    rng = random.Random(5)
    events = _entity_events(rng, 300, 1_795_000_000.0)
    full = _run(Engine(load_rulebook(DEFAULT_RULES), incremental=False), events, 15, random.Random(2))
    incremental = _run(Engine(load_rulebook(DEFAULT_RULES)), events, 15, random.Random(2))
    assert full == incremental
    assert sum(b'"transition":"raised"' in line for line in full) > 50  # deadlines were crossed
    assert sum(b'"transition":"resolved"' in line for line in full) > 50  # and clocks stopped


def test_an_event_type_a_deadline_rule_is_not_moved_by_leaves_its_clock_and_deadlines_as_they_were():
    from service.core import subjects

    engine = Engine(load_rulebook(DEFAULT_RULES))
    rng = random.Random(11)
    checked = 0
    for kind in ("ticket", "outage"):
        rules = [rc for rc in engine.rulebook.by_subject[kind] if rc.rule.moved_by is not None]
        for _ in range(200):
            events = [(body, ts) for body, ts in _entity_events(rng, 1, 1_795_000_000.0)
                      if routes(body)[0].startswith(kind)]
            facts: dict = {}
            for body, ts in events:
                before = {rc.rule.rule_id: (rc.rule.clock(facts), rc.rule.deadlines(facts, rc.params))
                          for rc in rules}
                subjects.FOLDS[kind](facts, body, ts)
                for rc in rules:
                    if body["type"] not in rc.rule.moved_by:
                        assert (rc.rule.clock(facts), rc.rule.deadlines(facts, rc.params)) == before[rc.rule.rule_id]
                        checked += 1
    assert checked > 500


def test_an_event_that_moves_no_deadline_clock_evaluates_none_of_them_while_they_are_quiet():
    engine = Engine(load_rulebook(DEFAULT_RULES))
    evaluated = _spy_on_rules(engine, "ticket")
    t0 = 1_795_000_000.0
    created = {"event_id": "e1", "type": "ticket.created", "ticket_id": "T1", "district_id": "D01",
               "area_type": "urban", "priority": "normal", "category": "no_power"}
    state = engine.on_event("ticket:T1", None, created, t0, t0).state
    evaluated.clear()
    dispatched = {"event_id": "e2", "type": "ticket.dispatched", "ticket_id": "T1", "crew_id": "C1"}
    result = engine.on_event("ticket:T1", state, dispatched, t0 + 300, t0 + 300)
    assert evaluated == [] and result.warnings == []
    assert result.wake_at == math.nextafter(t0 + 0.8 * 45 * 60, math.inf)  # yellow for no crew, as it was
    arrived = {"event_id": "e3", "type": "ticket.arrived", "ticket_id": "T1", "crew_id": "C1"}
    engine.on_event("ticket:T1", result.state, arrived, t0 + 600, t0 + 600)
    assert sorted(evaluated) == ["repair.arrival_overdue", "repair.restore_overdue"]
