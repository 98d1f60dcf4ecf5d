"""The BC Hydro outage-map history (Nov 2024) replayed through the real broker
and worker: the 20 November storm must put districts in storm mode and raise
repair warnings. Skips when ../shared is absent."""

from __future__ import annotations

import collections
import json

import pytest

from .harness import Deployment
from .test_replay import EVENT_CLOCK, ROLE_TOPIC, timeline

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
ROLE_TOPIC = {**ROLE_TOPIC, "billing": "billing_events", "service": "service_events"}


def test_bchydro_storm_day_gives_storm_mode_and_repair_warnings(kafka_bootstrap, tmp_path, shared_data):
    from service.sim.replay import bchydro

    replay = bchydro(shared_data / "bchydro" / "bchydro_events_2024-11-15_2024-11-29.jsonl.gz")
    d = Deployment(kafka_bootstrap, tmp_path, {**EVENT_CLOCK, "RISK_EVENT_CLOCK_IDLE_SECONDS": "5"})
    try:
        for _, role, key, event in replay.stream:
            d.producer.send(d.topics[ROLE_TOPIC[role]], key=key.encode(), value=json.dumps(event).encode())
        d.producer.flush()
        d.start_worker()
        d.wait_ready()
        got = timeline(d, settle=60, timeout=900)
    finally:
        d.close()
    raised = collections.Counter((row[2], row[5][:10]) for row in got if row[3] == "raised")
    storm_days = {day: n for (rule, day), n in raised.items() if rule == "reliability.storm_mode"}
    print("storm-mode raises by day:", dict(sorted(storm_days.items())))
    print("raises by rule:", dict(collections.Counter(r for (r, _), n in raised.items() for _ in range(n))))
    # The storm day dominates: most storm-mode raises fall on 20-21 November, several districts on the 20th.
    # (A broker run gave 9 on the 20th and 1 on the 25th; the in-memory engine gives 30, all on 20-21 Nov.
    # The difference is not yet explained: see issue 5.)
    on_storm = storm_days.get("2024-11-20", 0) + storm_days.get("2024-11-21", 0)
    assert storm_days.get("2024-11-20", 0) >= 5
    assert on_storm >= 0.8 * sum(storm_days.values())
    assert raised[("repair.arrival_overdue", "2024-11-20")] > 3 * max(
        raised[("repair.arrival_overdue", day)] for day in ("2024-11-16", "2024-11-17", "2024-11-18"))
