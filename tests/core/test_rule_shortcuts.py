"""Rules take shortcuts over window ends (a slid aggregate, a run of ends that change nothing decided
at once): over random streams, the same decisions and the same state as judging every end from scratch."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import orjson
import pytest

from schemas import parse_event
from service.config import DEFAULT_RULES, load_rulebook
from service.core.engine import Engine
from service.core.rules import base, billing_flagged_arrears, complaints_surge
from service.core.rules import base as base_rules
from service.core.rules.complaints_surge import ComplaintsSurge
from service.core.rules.reliability_storm_mode import ReliabilityStormMode
from service.core.rules.repair_sla_breach_ratio import RepairSlaBreachRatio
from service.core.rules.satisfaction_low import SatisfactionLow
from service.core.warning_state import WarningState, apply
from service.core.windows import Count, Window

T0 = 1_795_766_400.0


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def stream(seed: int, make_event, n: int = 400, on_steps: float = 0.0) -> list[tuple[float, float, dict | None]]:
    """(clock, event time, event or None for a tick): bursts, quiet spells, late events. `on_steps`: the
    share of events dated exactly at a 5-minute boundary (as replayed outage records often are)."""
    rng = random.Random(seed)
    clock, out = T0, []
    for i in range(n):
        clock += rng.choice([0, 5, 60, 240, 600, 1800, 7200]) * rng.random()
        if rng.random() < 0.2:
            out.append((clock, clock, None))
            continue
        ts = clock - rng.choice([0, 0, 0, 120, 900, 4000]) * rng.random()
        if rng.random() < on_steps:
            ts -= ts % 300
        out.append((clock, ts, make_event(rng, i)))
    return out


def drive(rule, params, events, every: int = 1) -> tuple[list, dict, dict]:
    """Observe every event; evaluate at every tick and after every `every`-th event (a worker that
    reads a batch, or lags behind other partitions, evaluates many window ends at once)."""
    facts = {"district_id": "D1", "area_type": "urban", "customers_served": 1000}
    rstate: dict = {}
    ws = WarningState()
    decided = []
    for k, (now, ts, event) in enumerate(events):
        if event is not None:
            rule.observe(facts, rstate, event, ts, params)
            if k % every:
                continue
        transitions, ev = apply(ws, rule.evaluate(facts, rstate, ws, now, params))
        decided.append((now, transitions, ev.wake_at, ev.running, ev.emptied, ws.value))
    return decided, rstate, ws.to_dict()


def from_scratch(monkeypatch, rule, params, events):
    """Every window end aggregated over its buckets again: nothing slid, no end skipped."""
    with monkeypatch.context() as m:
        m.setattr(base, "UNMERGE", {})
        return drive(rule, params, events)


def arrival(rng, i):
    return {"event_id": f"e{i}", "type": "derived.ticket_arrival", "minutes": rng.uniform(20, 70),
            "area_type": "urban"}


def survey(rng, i):
    return {"event_id": f"e{i}", "type": "survey.completed", "score": rng.choice([1, 3, 4, 5, 5])}


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("rule, params, make_event", [
    (RepairSlaBreachRatio(), RepairSlaBreachRatio.Params(window_minutes=60, step_minutes=5, min_samples=3,
                                                         **{"raise": {"yellow": 0.3, "orange": 0.5}},
                                                         clear={"yellow": 0.2}), arrival),
    (SatisfactionLow(), SatisfactionLow.Params(window_minutes=120, step_minutes=5, min_samples=3,
                                               **{"raise": {"yellow": 3.5}}, clear={"yellow": 3.8}), survey),
], ids=["ratio", "mean"])
def test_window_rule_decides_as_every_end_summed_again(monkeypatch, seed, rule, params, make_event):
    events = stream(seed, make_event)
    fast = drive(rule, params, events)
    assert fast == from_scratch(monkeypatch, rule, params, events)
    assert any(t for _, t, *_ in fast[0]), "the stream raises something"


def outage(rng, i):
    return {"event_id": f"e{i}", "type": "derived.outage_started", "customers_affected": rng.choice([0, 20, 150])}


def complaint(rng, i):
    return {"event_id": f"e{i}", "type": rng.choice(["complaint.received"] * 3 + ["survey.completed"])}


def judged_every_end(monkeypatch, rule, params, events, every: int = 1):
    """Every end judged: no run of ends that change nothing decided at once."""
    with monkeypatch.context() as m:
        m.setattr(complaints_surge, "unmoved", lambda *a: False)
        m.setattr(ReliabilityStormMode, "_unmoved", staticmethod(lambda *a: False))
        return drive(rule, params, events, every)


SURGE_RULES = [
    (ReliabilityStormMode(), ReliabilityStormMode.Params(min_samples=3, baseline_days=1, min_history_days=0.1,
                                                         customer_share_raise=0.3, customer_share_clear=0.2),
     outage),
    (ComplaintsSurge(), ComplaintsSurge.Params(window_minutes=60, step_minutes=15, min_samples=3, baseline_days=1,
                                               min_history_days=0.25), complaint),
]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("rule, params, make_event", SURGE_RULES, ids=["storm", "surge"])
def test_surge_rules_decide_as_when_every_end_is_judged(monkeypatch, seed, rule, params, make_event):
    events = stream(seed, make_event, n=600)
    fast = drive(rule, params, events)
    assert fast == judged_every_end(monkeypatch, rule, params, events)
    assert any(t for _, t, *_ in fast[0]), "the stream raises something"


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("every", [3, 8])
@pytest.mark.parametrize("rule, params, make_event", SURGE_RULES, ids=["storm", "surge"])
def test_surge_rules_evaluated_in_batches_decide_as_when_every_end_is_judged(monkeypatch, seed, every, rule, params,
                                                                             make_event):
    """Evaluated after several events at once, with events dated on step boundaries: a run of quiet
    ends may then be followed by the moment an event at a bucket's very start made a raise certain,
    which a leap over the run must not pass."""
    events = stream(seed, make_event, n=600, on_steps=0.5)
    fast = drive(rule, params, events, every)
    assert fast == judged_every_end(monkeypatch, rule, params, events, every)
    assert any(t for _, t, *_ in fast[0]), "the stream raises something"


def account_stream(seed: int, n: int = 300) -> list[tuple[float, dict]]:
    """Bills (some large, some due long ago), payments in full or in part, late ones, risk flags."""
    rng = random.Random(seed)
    clock, out, bills = T0, [], []
    for i in range(n):
        clock += rng.choice([1, 600, 3600, 86400, 20 * 86400]) * rng.random()
        ts = clock - rng.choice([0, 0, 3600, 5 * 86400]) * rng.random()
        r = rng.random()
        if r < 0.5 or not bills:
            bill = f"B{i}"
            bills.append((bill, rng.choice([300.0, 40000.0, 80000.0, 150000.0])))
            due = datetime.fromtimestamp(ts + rng.choice([-400, -40, 10]) * 86400, UTC).date().isoformat()
            event = {"type": "bill.issued", "bill_id": bill, "district_id": "D1", "customer_class": "commercial",
                     "amount": f"{bills[-1][1]:.2f}", "due_date": due, "period": due[:7]}
        elif r < 0.95:
            bill, amount = rng.choice(bills)
            event = {"type": "payment.received", "bill_id": bill,
                     "amount": f"{amount * rng.choice([1, 0.5, 0.25]):.2f}"}
        else:
            event = {"type": "account.risk_flagged", "flag": "bankruptcy", "district_id": "D1"}
        out.append((ts, {"event_id": f"e{i}", "occurred_at": iso(ts), "source": "test", "account_id": "A1",
                         **event}))
    return out


def run_account(events) -> tuple[list, dict]:
    engine = Engine(load_rulebook(DEFAULT_RULES))
    state, results = None, []
    for ts, event in events:
        body = parse_event(orjson.dumps(event)).model_dump(mode="json", exclude_none=True)
        result = engine.on_event("account:A1", state, body, ts, ts)
        state = result.state if result.state is not None else state
        results.append((result.warnings, result.wake_at))
    return results, state


@pytest.mark.parametrize("seed", range(6))
def test_account_timelines_decide_as_when_every_moment_is_worked_out_again(monkeypatch, seed):
    events = account_stream(seed)
    fast = run_account(events)
    with monkeypatch.context() as m:
        m.setattr(billing_flagged_arrears, "once_each", lambda target_at: target_at)
        assert fast == run_account(events)
    assert any(warnings for warnings, _ in fast[0]), "the stream raises something"


@pytest.mark.parametrize("seed", range(20))
def test_due_ends_are_the_steps_added_one_by_one(seed):
    rng = random.Random(seed)
    step = rng.choice([60.0, 300.0, 3600.0, 0.1, 7.5, 300])
    w = Window(step * rng.randint(1, 12), step, rng.choice([0.0, step, 2.5]))
    state = w.new_state()
    for _ in range(rng.randint(1, 5)):
        w.add(state, Count, T0 + rng.uniform(0, 10 * step), 1)
    if rng.random() < 0.5:
        state["evaluated"] = w.bucket_of(T0) + rng.randint(0, 3) * step
    now = T0 + rng.uniform(0, 30 * step)
    base = w.first_undecided_end(state) - step
    ends, e = [], base + step  # as the window walks them: one step added at a time
    while e <= w.bucket_of(now - w.lateness):
        ends.append(e)
        e += step
    if len(ends) <= w.size / step + 1:  # (past a window of empty ends, the walk skips them)
        assert w.due_ends(state, now) == ends
    span = w.due_span(state, now)  # the ends as window rules read them, made as they are read
    if span is not None:
        assert list(base_rules.EndPoints(*span, step)) == [(e, 0, e) for e in w.due_ends(state, now)]
        assert float(step).is_integer()


def test_a_due_span_lists_the_due_ends():
    w = Window(3600.0, 300.0, 300.0)
    state = w.new_state()
    w.add(state, Count, T0 + 10, 1)
    span = w.due_span(state, T0 + 2000)
    assert span == (T0 + 300, 5)
    assert list(base_rules.EndPoints(*span, 300.0)) == [(e, 0, e) for e in w.due_ends(state, T0 + 2000)]


def test_what_rules_work_out_from_their_parameters_is_that_of_the_parameters_asked_about():
    rng = random.Random(3)
    for _ in range(300):  # parameters made and dropped: an id may come back for another object
        minutes = rng.choice([30.0, 60.0, 120.0])
        params = ComplaintsSurge.Params(window_minutes=minutes, step_minutes=15, baseline_days=1,
                                        min_history_days=0.5)
        assert params.store() == complaints_surge._store(params, None)
        levels = {"yellow": rng.choice([0.5, 0.8]), "red": rng.choice([1.0, 2.0])}
        scale = rng.choice([60.0, 3600.0])
        assert base.offsets(levels, scale) == base._offsets(levels, scale)
        assert base.offsets(dict(levels), scale) == base._offsets(levels, scale)


def _crossings_from_scratch(state, start, plan, until, unit):
    """Every distinct offset sorted, and the severity reached there looked up, on every call."""
    from service.core.deadlines import _reached
    from service.core.warning_state import Decision

    for after in sorted({d.after for d in plan}):
        at = start + after
        if at >= until:
            break
        if state.changed_at is not None and at <= state.changed_at:
            continue
        reached = _reached(plan, after)
        yield Decision(reached.severity, after / unit, reached.after / unit, at)


@pytest.mark.parametrize("seed", range(6))
def test_deadline_crossings_from_a_schedule_worked_out_once_decide_as_from_scratch(seed):
    from service.core import deadlines
    from service.core.deadlines import Deadline

    rng = random.Random(seed)
    lists = [[Deadline(rng.choice(["yellow", "orange", "red"]), float(rng.choice([0, 60, 600, 600, 3600, 7200])))
              for _ in range(rng.randint(1, 5))] for _ in range(8)]
    for _ in range(300):
        plan = rng.choice(lists)  # the same lists again: the schedule is read from what was worked out
        start = T0 + rng.random() * 1000
        fast, slow = WarningState(), WarningState()
        for until in sorted(start + rng.random() * 9000 for _ in range(rng.randint(1, 4))):
            # the decisions as made (thresholds included), then as applied
            assert (list(deadlines.crossings(WarningState.from_dict(fast.to_dict()), start, plan, until, 60.0))
                    == list(_crossings_from_scratch(WarningState.from_dict(slow.to_dict()), start, plan, until, 60.0)))
            got = apply(fast, deadlines.crossings(fast, start, plan, until, 60.0))
            want = apply(slow, _crossings_from_scratch(slow, start, plan, until, 60.0))
            assert got == want
            assert fast.to_dict() == slow.to_dict()


def _overdue_at_from_scratch(self, facts, t):
    """Every bill sorted oldest first, then the open ones past their due day kept."""
    from service.core.rules.billing_overdue_large import DAY
    from service.core.subjects import account
    from service.core.timefmt import date_to_epoch

    bills = facts.get("bills", {})
    open_ = account.remaining_at(facts, t)
    late = [b for b in account.oldest_first(bills)
            if b in open_ and date_to_epoch(bills[b]["due_date"]) + DAY <= t]
    return sum(open_[b] for b in late), late


def _crossings_of_bills_from_scratch(bills, params):
    from service.core.rules.billing_overdue_large import DAY, _new_year_after
    from service.core.timefmt import date_to_epoch

    times = set()
    for b in bills:
        due = date_to_epoch(b["due_date"])
        times |= {due + DAY, due + params.overdue_days * DAY, _new_year_after(b["due_date"])}
    return times


@pytest.mark.parametrize("seed", range(6))
def test_overdue_large_reads_its_moments_and_open_bills_as_from_scratch(monkeypatch, seed):
    from service.core.rules.billing_overdue_large import OverdueLarge

    events = account_stream(seed)
    fast = run_account(events)
    rule, params = OverdueLarge(), OverdueLarge.Params(overdue_days=random.Random(seed).choice([1.0, 30.0, 45.5]))
    facts = fast[1]["facts"]
    rng = random.Random(seed)
    for _ in range(200):  # the account at the end, read at moments around its bills' times
        t = rng.choice([b["ts"] for b in facts["bills"].values()]) + rng.uniform(-40, 80) * 86400
        assert rule.overdue_at(facts, t) == _overdue_at_from_scratch(rule, facts, t)
    assert rule._crossings(facts["bills"].values(), params) == _crossings_of_bills_from_scratch(
        facts["bills"].values(), params)
    with monkeypatch.context() as m:
        m.setattr(OverdueLarge, "overdue_at", _overdue_at_from_scratch)
        m.setattr(OverdueLarge, "_crossings", staticmethod(_crossings_of_bills_from_scratch))
        assert fast == run_account(events)


def _next_change_from_scratch(w, size, after):
    times = list(map(float, w["b"]))
    candidates = [min(filter(after.__lt__, times), default=None),
                  min(times) + size if times else None,
                  min((n + size for _, n in w.get("old", {}).values() if n + size > after), default=None)]
    return min((p for p in candidates if p is not None), default=None)


def test_recent_events_next_change_is_the_earliest_candidate_from_scratch():
    from service.core.rules.complaints_staff_repeat import next_change

    rng = random.Random(5)
    for _ in range(3000):
        size = rng.choice([600.0, 86400.0, 7 * 86400.0])
        after = rng.choice([float("-inf"), T0 + rng.uniform(-2, 2) * size])
        w = {"b": {repr(T0 + rng.uniform(-1, 2) * size): [] for _ in range(rng.choice([0, 1, 2, 5]))}}
        if rng.random() < 0.5:
            w["old"] = {str(k): [1, T0 + rng.uniform(-2, 1) * size] for k in range(rng.choice([0, 1, 3]))}
        if rng.random() < 0.2 and w["b"]:  # a kept event exactly at `after`
            after = float(next(iter(w["b"])))
        assert next_change(w, size, after) == _next_change_from_scratch(w, size, after)


@pytest.mark.parametrize("seed", range(3))
def test_deadline_next_due_from_the_schedule_is_the_earliest_crossing_from_scratch(seed):
    import math

    from service.core import deadlines
    from service.core.deadlines import Deadline

    rng = random.Random(seed)
    lists = [[Deadline(rng.choice(["yellow", "orange", "red"]), rng.choice([0.0, 0.1, 60.0, 600.0, 3600.0]))
              for _ in range(rng.randint(1, 5))] for _ in range(8)]
    for _ in range(2000):
        plan = rng.choice(lists)
        start = T0 + rng.random() * 1000
        after = start + rng.choice([0.0, 0.1, 60.0, 600.0, 3600.0, 5000.0]) + rng.choice([0.0, -1e-7, 1e-7, 1.0])
        due = [start + d.after for d in plan if start + d.after >= after]
        assert deadlines.next_due(start, plan, after) == (math.nextafter(min(due), math.inf) if due else None)
