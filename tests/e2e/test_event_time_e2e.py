"""Event times and ids a hostile producer can send, through the real broker and worker: each is
dead-lettered with its reason, no clock jumps, and the good events after them are processed."""

from __future__ import annotations

import re
import time

import pytest

from schemas import DeadLetter
from service.core.fingerprint import fingerprint

from .harness import Deployment
from .test_worker_e2e import MIN, ticket, warnings_for

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

DAY = 86400.0
YEAR_2100 = 4102444800.0
TICKET = dict(district_id="north", area_type="urban", category="no_power", priority="normal")


def dead_letters(d: Deployment, keys: set[bytes]) -> dict[bytes, DeadLetter]:
    records = d.read("dead_letters", lambda rs: keys <= {r.key for r in rs}, timeout=60)
    return {r.key: DeadLetter.model_validate_json(r.value) for r in records if r.key in keys}


def event_clock(d: Deployment) -> float:
    """The worker's clock (`risk_clock_seconds`; 0 before it has one)."""
    return float(re.search(r"^risk_clock_seconds (\S+)$", d.metrics(), re.M)[1])


@pytest.mark.parametrize("clock", ["wall", "event"])
def test_future_old_and_bad_id_events_are_dead_lettered_and_good_ones_after_them_processed(
        kafka_bootstrap, tmp_path, clock):
    d = Deployment(kafka_bootstrap, tmp_path, {"RISK_CLOCK": clock, "RISK_EVENT_CLOCK_IDLE_SECONDS": "1"})
    try:
        d.start_worker()
        d.wait_ready()
        now = time.time()
        # with the event clock, a replay of last month: the old event is older than the retention behind it
        base = now if clock == "wall" else now - 30 * DAY
        if clock == "event":  # the replay's first event sets the event clock
            d.send("repair_tickets", "T-first", ticket("first", "ticket.created", base - 40 * MIN, "T-first", **TICKET))
            deadline = time.time() + 60
            while event_clock(d) < base - DAY and time.time() < deadline:  # 0 until it knows
                time.sleep(0.3)
            assert base - DAY < event_clock(d) < now - 29 * DAY
        d.send("repair_tickets", "T-2100", ticket("f1", "ticket.created", YEAR_2100, "T-2100", **TICKET))
        d.send("repair_tickets", "T-id", ticket("b1", "ticket.created", base, "T1 CALL 555-0100 NOW", **TICKET))
        d.send("repair_tickets", "T-old", ticket("o1", "ticket.created", base - 40 * DAY, "T-old", **TICKET))
        if clock == "event":  # the replay goes on past the first ticket's deadlines
            d.send("repair_tickets", "T-first", ticket("first-2", "ticket.dispatched", base + 10 * MIN, "T-first",
                                                       crew_id="C1"))
        d.send("repair_tickets", "T-good", ticket("g1", "ticket.created", base - 40 * MIN, "T-good", **TICKET))
        letters = dead_letters(d, {b"T-2100", b"T-id", b"T-old"})
        assert letters[b"T-2100"].reason == "future_event_time"
        assert letters[b"T-id"].reason == "bad_id" and "ticket_id" in letters[b"T-id"].detail
        assert letters[b"T-old"].reason == "too_old"
        # the good event after them is processed: its crew is late
        fp = fingerprint("repair.arrival_overdue", {"ticket_id": "T-good"})
        records = d.read("risk_warnings", lambda rs: warnings_for(rs, fp), timeout=90)
        assert warnings_for(records, fp)[0]["transition"] == "raised"
        # no warning was stamped beyond wall time, and no clock went there
        assert all(r.value.find(b"2100-") == -1 for r in records)
        assert event_clock(d) <= time.time() + 300
        assert d.proc.poll() is None, "the worker must keep running"
    finally:
        d.close()
