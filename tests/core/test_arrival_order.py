"""Counting rules raise at the crossing event, whatever order the events arrive in.

A worker reads its input partitions in an arbitrary interleaving: a district's
outages dated 08:30 may arrive before those dated 08:10 while the event clock
(the slowest partition) is still behind both. A raise made at once from the
later outages would stand (an early raise is never moved back); the rules hold
what the clock has not reached, so the warning is the in-order stream's.
"""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from service.sim import replay
from service.sim.engine_run import run_stream
from tests.core.world import T0, World, default_rules, rulebook

DAY = 24 * 60


def storm_run(order: str) -> list[tuple]:
    w = World(rulebook(only=["reliability.storm_mode"]))
    n = 0
    for d in range(3):  # three quiet days: one outage every six hours, the hourly baseline
        for i in range(4):
            n += 1
            w.send("outage.started", d * DAY + i * 360, outage_id=f"q{n}", kind="unplanned", district_id="D1",
                   feeder_id=f"F{i}", area_type="rural", customers_affected=10)
    w.run(3 * DAY, every=60)
    # a burst: one outage every 3 minutes from 3 days 00:05, on two feeders; the clock stays at
    # 3 days while they arrive (a partition behind holds it)
    burst = [(3 * DAY + 5 + 3 * i, f"b{i}", f"F{i % 2}") for i in range(16)]
    if order == "latest first":
        burst.reverse()
    elif order == "shuffled":
        random.Random(7).shuffle(burst)
    for minute, oid, feeder in burst:
        w.send("outage.started", minute, outage_id=oid, kind="unplanned", district_id="D1",
               feeder_id=feeder, area_type="rural", customers_affected=10)
    w.run(3 * DAY + 180, every=5)
    return sorted((x["rule_id"], str(x["scope"]), x["transition"], x["severity"], x["changed_at"],
                   x["metric"]["value"]) for x in w.warnings)


@pytest.mark.parametrize("order", ["latest first", "shuffled"])
def test_out_of_order_arrival_raises_as_in_order_arrival(order):
    in_order = storm_run("in order")
    storm = [x for x in in_order if x[0] == "reliability.storm_mode"]
    assert storm and storm[0][2] == "raised"  # the burst declares storm mode
    assert storm_run(order) == in_order


def test_a_flood_into_one_bucket_keeps_its_event_times_bounded():
    """A producer flooding one district within a second: the undecided bucket keeps at most
    BUCKET_SAMPLES event times (its latest merged into one), and every event still counts."""
    from service.core.rules.base import BUCKET_SAMPLES

    w = World(rulebook(only=["complaints.surge"]))
    for i in range(1000):
        w.send("complaint.received", 10 + i * 0.001, district_id="D1", area_type="urban", channel="phone",
               category="power_quality")
    w.run(30, every=1)
    rstate = w.states["district:D1"]["rules"]["complaints.surge"]
    assert rstate.get("mx") and all(len(s) <= BUCKET_SAMPLES for s in rstate["mx"].values())
    assert sum(v for s in rstate["mx"].values() for _, v in s) == 1000  # every event still counted


def outages(w, minutes, tag, feeders=2, restored_after=None):
    for i, minute in enumerate(minutes):
        oid = f"{tag}{i}"
        w.send("outage.started", minute, outage_id=oid, kind="unplanned", district_id="D1",
               feeder_id=f"F{i % feeders}", area_type="rural", customers_affected=10)
        if restored_after is not None:
            w.send("outage.restored", minute + restored_after, outage_id=oid)


def storm_history(w):
    outages(w, [d * DAY + i * 360 for d in range(3) for i in range(4)], "q", feeders=4)  # the quiet baseline
    w.run(3 * DAY, every=60)
    outages(w, [3 * DAY + 5 + 3 * i for i in range(16)], "b")  # a storm


def feeder_history(w):
    outages(w, [0, 40, 80], "b", feeders=1, restored_after=30)  # a third sustained outage in 2 h: raised


def alarms(w, minutes, tag):
    for i, minute in enumerate(minutes):
        w.tick(minute)
        w.send("meter.alarm", minute, meter_id=f"{tag}{i}", district_id="D1", alarm="communication_loss")


def alarm_history(w):
    # 9 alarms every hour for two days (the baseline), then 9 more in one hour: 18, z = 3
    alarms(w, sorted([h * 60 + 7 + 0.01 * i for h in range(48) for i in range(9)]
                     + [47 * 60 + 20 + 0.01 * i for i in range(9)]), "m")


# (rules, overrides, history, second burst after a window end, that window's lateness in minutes)
CASES = {
    "storm mode": (["reliability.storm_mode"], {}, storm_history,
                   lambda w, end: outages(w, [end + 1 + 0.4 * i for i in range(8)], "c"), 5),
    "meter alarm surge": (["meter.alarm_surge"], {}, alarm_history,
                          lambda w, end: alarms(w, [end + 1 + 0.01 * i for i in range(40)], "c"), 5),
    "frequent feeder": (["outage.frequent_feeder"],
                        {"outage.frequent_feeder": {"params": {"window_minutes": 120, "step_minutes": 60,
                                                               "lateness_minutes": 60, "min_samples": 1,
                                                               "raise": {"yellow": 3}}}},
                        feeder_history,
                        lambda w, end: outages(w, [end - 29 + 3 * i for i in range(3)], "c", feeders=1,
                                               restored_after=30), 60),
}


def crossing_after_clearing(case: str, lag: float | None) -> list[tuple]:
    """The case's warnings; with `lag`, a second burst (dated just after the window end that cleared
    the first) arrives when the clock is `lag` minutes past that end."""
    only, overrides, history, again, _ = CASES[case]
    w = World(rulebook(only=only, **overrides))
    history(w)
    if lag is None:
        w.run(5 * DAY, every=5)
    else:
        cleared = clearing_end(case)
        w.run(cleared + lag, every=1)
        again(w, cleared)
        w.run(cleared + 300, every=1)
    return [(x["transition"], x["severity"], x["changed_at"], x["metric"]["value"]) for x in w.warnings]


def clearing_end(case: str) -> float:
    resolved = [x for x in crossing_after_clearing(case, None) if x[0] == "resolved"]
    assert resolved, "the first burst's warning clears"
    return (datetime.fromisoformat(resolved[0][2].replace("Z", "+00:00")).timestamp() - T0) / 60


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_crossing_just_after_a_clearing_raises_at_the_crossing(case):
    """The warning clears at a window end E; a new burst dated just after E comes in while E is
    still within its lateness (the warning still fires then). The raise is the one an in-order
    stream gives whose clock had decided E first: at the crossing event, not at the next end."""
    decided_first = crossing_after_clearing(case, lag=CASES[case][-1] + 1)
    close_behind = crossing_after_clearing(case, lag=1)
    raises = [x for x in decided_first if x[0] == "raised"]
    assert len(raises) == 2, decided_first  # the first burst, and the second after the clearing
    assert close_behind == decided_first


EARLY = ("reliability.storm_mode", "complaints.surge", "meter.alarm_surge", "outage.frequent_feeder")


def replayed(stream, lateness: float | None) -> list[tuple]:
    """The early-raising rules' warnings over an in-order replay, their lateness as shipped or set."""
    overrides = {}
    if lateness is not None:
        shipped = default_rules()["rules"]
        overrides = {r: {"params": {**shipped[r]["params"], "lateness_minutes": lateness}} for r in EARLY}
    run = run_stream(stream, rulebook=rulebook(only=list(EARLY), **overrides), until=stream[-1][0] + 86400)
    return sorted((x["rule_id"], x["fingerprint"], x["transition"], x["severity"], x["changed_at"],
                   x["metric"]["value"]) for x in run.warnings)


@pytest.mark.slow
@pytest.mark.skipif(not replay.BCHYDRO_FILE.is_file(), reason="BC Hydro outage history not present (../shared)")
def test_an_in_order_replay_decides_the_same_whatever_the_lateness():
    """In an in-order stream nothing is late, so the lateness may delay a decision, never change it:
    with lateness 0 every window end is decided before any later event. Nine days of BC Hydro
    outages (the storm of 20 November), storm mode's thresholds moving with its baseline from end
    to end: a crossing judged while an earlier end waited for its lateness passed over that end's
    own raise, or saw a warning that end was about to clear."""
    r = replay.bchydro(replay.BCHYDRO_FILE)
    stream = [s for s in r.stream if s[0] < r.stream[0][0] + 9 * 86400]
    shipped = replayed(stream, None)
    assert sum(1 for x in shipped if x[0] == "reliability.storm_mode" and x[2] == "raised") > 20
    assert shipped == replayed(stream, 0)
