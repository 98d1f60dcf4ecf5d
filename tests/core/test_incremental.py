"""Incremental evaluation decides exactly what evaluating every rule every time decides."""

from __future__ import annotations

import random

import orjson

from bench.mix import encode, mix
from schemas import parse_event
from service.config import DEFAULT_RULES, load_rulebook
from service.core.engine import Engine
from service.core.subjects import routes


def _run(engine: Engine, events: list, tick_every: int, rng: random.Random) -> list:
    """Every result the engine gives over the events, derived events and ticks (some early) included."""
    state: dict[str, dict] = {}
    wakes: dict[str, float | None] = {}
    out = []

    def keep(key, result):
        if result.state is None:
            state.pop(key, None)
        else:
            state[key] = result.state
        wakes[key] = result.wake_at
        out.append(orjson.dumps([key, result.warnings, result.wake_at, result.late, result.duplicate,
                                 result.stats, result.derived, result.unchanged, result.state is None],
                                option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS))

    for i, (body, ts) in enumerate(events):
        todo = [(key, body, ts) for key in routes(body)]
        while todo:
            key, ev, ets = todo.pop()
            result = engine.on_event(key, state.get(key), ev, ets, ets)
            keep(key, result)
            todo += [(target, d, d["ts"]) for target, d in result.derived]
        if i % tick_every == 0:
            for key, at in sorted(wakes.items(), key=lambda kv: kv[0]):
                # due keys, and now and then one whose time has not come (a tick that must change nothing)
                if key in state and ((at is not None and at <= ts) or rng.random() < 0.05):
                    keep(key, engine.on_tick(state[key], ts))
    for key in sorted(state):
        s = dict(state[key])
        s.pop("next", None)  # the incremental engine's own bookkeeping,
        s.pop("size", None)  # and the encoded size, which counts it
        out.append(orjson.dumps([key, s], option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS))
    return out


def test_incremental_evaluation_decides_what_evaluating_every_rule_decides():
    events = []
    for _, _, _, event in mix(6000, 1_795_000_000.0, 6000 / 9, 3):
        parsed = parse_event(encode(event))
        events.append((parsed.model_dump(mode="json", exclude_none=True), parsed.occurred_at.timestamp()))
    full = _run(Engine(load_rulebook(DEFAULT_RULES), incremental=False), events, 40, random.Random(1))
    incremental = _run(Engine(load_rulebook(DEFAULT_RULES)), events, 40, random.Random(1))
    assert len(full) == len(incremental)
    for a, b in zip(full, incremental):
        assert a == b
    assert any(b'"transition"' in line for line in full)  # it did decide warnings


def test_an_event_evaluates_only_the_rules_that_observe_it_while_the_others_are_not_due():
    engine = Engine(load_rulebook(DEFAULT_RULES))
    evaluated: list[str] = []
    for rc in engine.rulebook.by_subject["district"]:
        rule = rc.rule
        original = rule.evaluate

        def spy(*args, _original=original, _id=rule.rule_id):
            evaluated.append(_id)
            return _original(*args)
        rule.evaluate = spy
    t0 = 1_795_000_000.0
    base = {"district_id": "D01", "area_type": "urban", "channel": "phone", "category": "billing"}
    state = None
    for i in range(3):
        event = {"event_id": f"c{i}", "type": "complaint.received", "ts": t0 + i, **base}
        state = engine.on_event("district:D01", state, event, t0 + i, t0 + i).state
    evaluated.clear()
    event = {"event_id": "c9", "type": "complaint.received", "ts": t0 + 10, **base}
    engine.on_event("district:D01", state, event, t0 + 10, t0 + 10)
    observers = {rc.rule.rule_id for rc in engine.rulebook.by_subject["district"]
                 if "complaint.received" in rc.rule.observes}
    assert set(evaluated) == observers
    evaluated.clear()
    result = engine.on_tick(state, t0 + 11)  # nothing is due a second later
    assert evaluated == [] and result.unchanged


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
            "e = Engine(load_rulebook(DEFAULT_RULES)); print([p[-1] for k in sorted(e._plan) for p in e._plan[k]])")
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
    state = None
    for i in range(3):
        event = {"event_id": f"c{i}", "type": "complaint.received", "ts": t0 + i, **base}
        state = engine.on_event("district:D01", state, event, t0 + i, t0 + i).state
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
