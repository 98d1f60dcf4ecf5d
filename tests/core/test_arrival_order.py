"""Counting rules raise at the crossing event, whatever order the events arrive in.

A worker reads its input partitions in an arbitrary interleaving: a district's
outages dated 08:30 may arrive before those dated 08:10 while the event clock
(the slowest partition) is still behind both. A raise made at once from the
later outages would stand (an early raise is never moved back); the rules hold
what the clock has not reached, so the warning is the in-order stream's.
"""

from __future__ import annotations

import random

import pytest

from tests.core.world import World, rulebook

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
