"""Every subject's state stays within a Kafka record, whatever a producer sends.

A state is written as one changelog record; Kafka refuses one over 1 MiB, and a
refused write used to stop the worker on every start. These drive an account and
a district (with its staff member and a metered account) to their bounds with
long event ids and hostile timestamps.
"""

import random

import orjson
import pytest

from service.core.engine import MAX_ACCOUNT_ENTRIES, Engine, StateTooLarge
from service.core.engine import DATED_IDS, RECENT_IDS
from service.core.notify import STATE_BUDGET_BYTES
from service.core.rules.complaints_staff_repeat import MAX_ENTRIES

from .world import DAY, HOUR, MIN, T0, World, rulebook

LONG = "x" * 50  # with a counter: event ids near the contract's 64 characters


def size(state: dict) -> int:
    return len(orjson.dumps(state))


def test_an_account_with_thousands_of_paid_bills_keeps_its_state_bounded_and_its_totals_exact():
    w = World()
    n = 3000
    for i in range(n):
        bill = f"{LONG}-bill-{i:08d}"
        w.send("bill.issued", i * 10, event_id=f"{LONG}-b-{i:08d}", account_id="A1", district_id="D1",
               customer_class="residential", period="2026-11", bill_id=bill, amount="12.34", due_date="2026-12-31")
        w.send("payment.received", i * 10 + 1, event_id=f"{LONG}-p-{i:08d}", account_id="A1", amount="12.34",
               bill_id=bill)
    state = w.states["account:A1"]
    facts = state["facts"]
    assert size(state) < STATE_BUDGET_BYTES
    assert len(facts["bills"]) + len(facts.get("payments", {})) <= MAX_ACCOUNT_ENTRIES
    assert facts["unpaid_cents"] == 0 and facts["credit_cents"] == 0
    # a resend of a dropped payment is not taken for new money
    w.send("payment.received", 1, event_id=f"{LONG}-p-{0:08d}", account_id="A1", amount="12.34",
           bill_id=f"{LONG}-bill-{0:08d}")
    assert w.states["account:A1"]["facts"]["credit_cents"] == 0
    # every bill and every payment reached the district once
    district = w.states["district:D1"]["rules"]["billing.collection_rate"]["periods"]["2026-11"]
    assert district["billed"] == n * 1234 and sum(district["paid"].values()) == n * 1234


def test_settled_bills_are_dropped_after_the_retention_and_open_ones_are_kept():
    w = World(retention_seconds=7 * DAY)
    for i in range(10):
        w.send("bill.issued", i * DAY / MIN, account_id="A1", district_id="D1", customer_class="residential",
               period=f"2026-{i + 1:02d}", bill_id=f"B{i}", amount="10.00", due_date="2027-01-31")
        if i % 2 == 0:
            w.send("payment.received", i * DAY / MIN + 1, account_id="A1", amount="10.00", bill_id=f"B{i}")
    facts = w.states["account:A1"]["facts"]
    # day 9 is the newest: bills settled before day 2 are gone, every open one is kept
    assert sorted(facts["bills"]) == ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9"]
    assert facts["unpaid_cents"] == 5 * 1000


def test_an_account_flooded_with_credit_refuses_the_event_that_would_outgrow_its_state():
    budget = 128 * 1024  # as the default budget, reached sooner
    engine = Engine(rulebook(), state_budget=budget)
    state, refused = None, 0
    for i in range(2000):
        event = {"type": "payment.received", "event_id": f"{LONG}-p-{i:08d}", "account_id": "A1", "amount": "1.00"}
        before = orjson.dumps(state) if state is not None else None
        try:
            r = engine.on_event("account:A1", state, event, T0 + i, T0 + i)
            state = r.state
        except StateTooLarge:
            refused += 1
            assert orjson.dumps(state) == before  # not applied: the state is as it was
        assert size(state) <= budget
    assert refused > 0
    # nothing applied was lost: every payment kept is credit
    assert state["facts"]["credit_cents"] == 100 * len(state["facts"]["payments"])


def test_a_district_flooded_with_complaints_at_any_time_keeps_every_state_bounded():
    w = World()
    rng = random.Random(5)
    categories = ["service_attitude", "repair_delay", "billing_error", "metering", "other"]
    for i in range(3000):
        # dated anywhere from two days back to five years ahead
        minute = rng.uniform(-2 * DAY, 5 * 365 * DAY) / MIN
        w.send("complaint.received", minute, event_id=f"{LONG}-c-{i:08d}", complaint_id=f"c{i}", district_id="D1",
               category=rng.choice(categories), staff_id="S1")
        w.send("meter.alarm", minute, event_id=f"{LONG}-m-{i:08d}", meter_id="M1", district_id="D1",
               alarm=rng.choice(["tamper", "reverse_energy", "zero_consumption"]), account_id="A1")
        if i % 1000 == 0:
            w.tick(i / 10)
    for key in ("district:D1", "staff:S1", "account:A1"):
        assert size(w.states[key]) < STATE_BUDGET_BYTES, key
    # bounded by design, not by how many events were sent: every window's buckets, every event list
    surge = w.states["district:D1"]["rules"]["complaints.surge"]["w"]["b"]
    assert len(surge) <= 2 * 24 * 29 + 2 + 1  # two 29-day stores of hourly buckets and the lateness
    for key, rule in (("staff:S1", "complaints.staff_repeat"), ("account:A1", "meter.tamper_suspected"),
                      ("district:D1", "complaints.billing_errors")):
        entries = w.states[key]["rules"][rule]["w"]["b"].values()
        assert sum(map(len, entries)) <= MAX_ENTRIES, key
    assert len(w.states["district:D1"]["recent"]) <= RECENT_IDS * 8
    assert sum(map(len, w.states["district:D1"]["dated"].values())) <= DATED_IDS * 8


def test_a_resend_after_300_other_events_in_a_district_is_not_counted_twice():
    w = World(rulebook(only=["complaints.surge"]))
    w.send("complaint.received", 0, event_id="first", complaint_id="c0", district_id="D1", category="other")
    for i in range(300):
        w.send("complaint.received", 1 + i / 100, complaint_id=f"c{i + 1}", district_id="D1", category="other")
    w.send("complaint.received", 0, event_id="first", complaint_id="c0", district_id="D1", category="other")
    counts = w.states["district:D1"]["rules"]["complaints.surge"]["w"]["b"]
    assert sum(counts.values()) == 301


def test_a_late_resend_in_a_busy_district_is_recognised_while_a_window_can_count_it():
    # 2 000 complaints within the hour between the original and its resend: beyond the
    # last-256 memory, within the memory of what is dated recently (DATED_IDS)
    w = World(rulebook(only=["complaints.surge"]))
    w.send("complaint.received", 30, event_id="first", complaint_id="c0", district_id="D1", category="other")
    for i in range(2000):
        w.send("complaint.received", 30 + i / 100, complaint_id=f"c{i + 1}", district_id="D1", category="other")
    w.send("complaint.received", 30, event_id="first", complaint_id="c0", district_id="D1", category="other")
    counts = w.states["district:D1"]["rules"]["complaints.surge"]["w"]["b"]
    assert sum(counts.values()) == 2001


def test_the_dated_memory_keeps_what_a_window_can_still_count_and_forgets_the_earliest_first():
    from service.core.engine import _remember_dated

    dated: dict = {}
    for i in range(10):
        _remember_dated(dated, f"{i:08d}", T0 + i * HOUR, since=T0 + 9 * HOUR - 2 * HOUR, keep=3)
    assert "".join(dated.values()) == "000000070000000800000009"  # 0-6 dated before `since`
    _remember_dated(dated, "0000000a", T0 + 9 * HOUR, since=T0 + 7 * HOUR, keep=3)
    assert "".join(dated.values()) == "00000008000000090000000a"  # over the count: the earliest-dated goes


@pytest.mark.parametrize("ts", [T0, T0 + HOUR])
@pytest.mark.parametrize("agg", ["count", "sum", "mean", "p90"])
def test_a_window_at_its_bucket_cap_keeps_the_buckets_nearest_the_clock(ts, agg):
    from service.core.windows import Count, Mean, Quantile, Sum, Window

    agg = {"count": Count, "sum": Sum, "mean": Mean, "p90": Quantile(0.9)}[agg]
    win = Window(3600.0, 60.0)
    state = win.new_state()
    for i in range(win.max_buckets):
        win.add(state, agg, T0 + 10 * HOUR + i * 60.0, 1.0)
    later = win.add(state, agg, T0 + 100 * HOUR, 1.0)
    earlier = win.add(state, agg, ts, 1.0)
    assert not later and earlier and len(state["b"]) == win.max_buckets
    assert state["late"] == 2  # the later one, and the latest bucket's one it displaced
    assert min(map(float, state["b"])) == win.bucket_of(ts)


def test_a_state_written_when_derived_names_were_a_list_still_derives_each_event_once():
    w = World()
    w.send("bill.issued", 0, event_id="b1", account_id="A1", district_id="D1", customer_class="residential",
           period="2026-11", bill_id="B1", amount="10.00", due_date="2026-12-31")
    facts = w.states["account:A1"]["facts"]
    facts["derived"] = list(facts["derived"])  # as an older version stored it
    del w.states["account:A1"]["v"]
    w.send("payment.received", 1, event_id="p1", account_id="A1", amount="10.00", bill_id="B1")
    rate = w.states["district:D1"]["rules"]["billing.collection_rate"]["periods"]["2026-11"]
    assert rate["billed"] == 1000 and sum(rate["paid"].values()) == 1000
