"""A warning tells only what was known at its `changed_at`: it cites no event dated after it.

Deadlines due by an event's time are decided before the event is folded in, and every rule's
evidence is the events dated no later than the change it describes. Checked over the benchmark
mix delivered in order, replayed at once (the clock jumping hours between ticks), shuffled
(up to half an hour late) on the event clock and on the wall clock, and over real outage records.
"""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from bench.mix import encode, mix
from schemas import parse_event
from service.config import DEFAULT_RULES, load_rulebook
from service.core.engine import Engine
from service.core.subjects import routes
from service.sim import replay
from service.sim.engine_run import run_stream


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _events(n: int, seed: int) -> list[tuple[dict, float]]:
    out = []
    for _, _, _, event in mix(n, 1_795_000_000.0, n / 9, seed):
        parsed = parse_event(encode(event))
        out.append((parsed.model_dump(mode="json", exclude_none=True), parsed.occurred_at.timestamp()))
    return out


def _deliver(events, order: str, rng: random.Random, tick_every: int) -> tuple[list[dict], dict[str, float]]:
    """Every warning of the run, and the time of every event it saw (derived ones included).

    order "in order": each event on its own time; "at once": the same, ticked only every
    `tick_every` events; "shuffled": each event up to 30 min late, the clock the newest event
    time seen; "wall": as shuffled, the clock the time of delivery (wall time).
    """
    delays = [rng.choice([0.0, 0.0, rng.uniform(0, 1800)]) if order in ("shuffled", "wall") else 0.0
              for _ in events]
    arrivals = sorted(range(len(events)), key=lambda i: (events[i][1] + delays[i], i))
    engine = Engine(load_rulebook(DEFAULT_RULES))
    state: dict[str, dict] = {}
    wakes: dict[str, float | None] = {}
    times: dict[str, float] = {}
    warnings: list[dict] = []
    clock = -float("inf")

    def keep(key, result):
        if result.state is None:
            state.pop(key, None)
        else:
            state[key] = result.state
        wakes[key] = result.wake_at
        warnings.extend(result.warnings)

    for n, i in enumerate(arrivals):
        body, ts = events[i]
        wall = ts + delays[i]
        clock = wall if order == "wall" else max(clock, ts)
        todo = [(key, body, ts) for key in routes(body)]
        while todo:
            key, ev, ets = todo.pop()
            times.setdefault(ev["event_id"], ets)
            result = engine.on_event(key, state.get(key), ev, ets, clock, wall if order == "wall" else None)
            keep(key, result)
            todo += [(target, d, d["ts"]) for target, d in result.derived]
        if n % tick_every == 0:
            for key, at in sorted(wakes.items()):
                if key in state and at is not None and at <= clock:
                    keep(key, engine.on_tick(state[key], clock))
    return warnings, times


def _citing_later(warnings: list[dict], times: dict[str, float]) -> list[tuple[str, str, str, float]]:
    """(rule, transition, event id, seconds after the change) of every citation of a later event."""
    out = []
    for w in warnings:
        at = _epoch(w["changed_at"])
        out += [(w["rule_id"], w["transition"], e, times[e] - at) for e in w["evidence"]
                if e in times and times[e] > at]
    return out


@pytest.mark.parametrize("order, tick_every", [("in order", 20), ("at once", 2000), ("shuffled", 20), ("wall", 20)])
def test_no_warning_cites_an_event_dated_after_its_change(order, tick_every):
    warnings, times = _deliver(_events(8000, 11), order, random.Random(5), tick_every)
    cited = [e for w in warnings for e in w["evidence"] if e in times]
    assert len(warnings) > 500 and len(cited) > 2000  # it decided, and its warnings cite events
    assert _citing_later(warnings, times) == []


def test_a_crossing_before_an_event_is_told_as_it_stood_then():
    """A ticket whose crew arrives long after its deadline, with no tick between (a replay read at once):
    the overdue warning is raised at the deadline without the arrival, then resolved by it."""
    engine = Engine(load_rulebook(DEFAULT_RULES))
    t0 = 1_795_000_000.0
    base = {"ticket_id": "T1", "district_id": "D1", "area_type": "urban", "priority": "normal",
            "category": "no_power"}
    created = {"event_id": "c1", "type": "ticket.created", **base}
    arrived = {"event_id": "a1", "type": "ticket.arrived", "crew_id": "K1", **base}
    state = engine.on_event("ticket:T1", None, created, t0, t0).state
    result = engine.on_event("ticket:T1", state, arrived, t0 + 3 * 3600, t0 + 3 * 3600)
    overdue = [w for w in result.warnings if w["rule_id"] == "repair.arrival_overdue"]
    assert [w["transition"] for w in overdue][0] == "raised" and overdue[-1]["transition"] == "resolved"
    raised = overdue[0]
    assert raised["evidence"] == ["c1"] and "K1" not in str(raised["scope"])
    assert "a1" in overdue[-1]["evidence"]


def _replay_cites_nothing_later(r: replay.Replay, days: float | None = None) -> int:
    stream = r.stream if days is None else [s for s in r.stream if s[0] < r.stream[0][0] + days * 86400]
    times = {e["event_id"]: _epoch(e["occurred_at"]) for _, _, _, e in stream}
    run = run_stream(stream)
    for w in run.warnings:  # derived events: their time is their subject's, never later than the change
        at = _epoch(w["changed_at"])
        assert all(times.get(e, at) <= at for e in w["evidence"]), (w["rule_id"], w["changed_at"], w["evidence"])
    return len(run.warnings)


@pytest.mark.slow
def test_a_replay_of_the_shipped_outage_records_cites_no_later_event():
    assert _replay_cites_nothing_later(replay.oe417(replay.OE417_SAMPLE)) > 50


@pytest.mark.slow
@pytest.mark.skipif(not replay.BCHYDRO_FILE.is_file(), reason="BC Hydro outage history not present (../shared)")
def test_a_replay_of_bc_hydro_outages_cites_no_later_event():
    assert _replay_cites_nothing_later(replay.bchydro(replay.BCHYDRO_FILE), days=4) > 50
