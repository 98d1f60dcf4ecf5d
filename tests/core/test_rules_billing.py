"""Fee recovery: the account subject and the three billing rules, driven through World."""

import pytest

from service.core.subjects import account
from service.core.timefmt import to_epoch

from .world import MIN, T0, World, rulebook

FLAGGED, OVERDUE, RATE = "billing.flagged_arrears", "billing.overdue_large", "billing.collection_rate"
ACCOUNT = dict(account_id="A1")
BILL = dict(account_id="A1", district_id="D1", customer_class="industrial", period="2026-11")


def on(text: str) -> float:
    """Minutes from T0 (2026-11-27T08:00Z) to a UTC time such as "2026-12-30T00:00"."""
    return (to_epoch(text + "+00:00") - T0) / MIN


def z(text: str) -> str:
    """The rendering of a UTC time in warnings."""
    return text + ":00.000Z"


def world(*rules: str) -> World:
    return World(rulebook(only=list(rules)))


def facts(w: World, aid: str = "A1") -> dict:
    return w.states[f"account:{aid}"]["facts"]


# --- the account subject -------------------------------------------------------------------


def test_payment_before_its_bill_is_credit_then_pays_the_bill():
    w = world(OVERDUE)
    w.send("payment.received", 10, amount="60000.00", **ACCOUNT)
    assert facts(w)["credit_cents"] == 6000000 and facts(w)["unpaid_cents"] == 0
    w.send("bill.issued", 20, bill_id="B1", amount="60000.00", due_date="2026-11-30", **BILL)
    assert facts(w)["credit_cents"] == 0 and facts(w)["unpaid_cents"] == 0
    w.run(on("2027-02-01T00:00"), every=24 * 60)
    assert w.of(OVERDUE) == []


def test_redelivered_payment_is_counted_once():
    f = {}
    bill = {"type": "bill.issued", "event_id": "b1", "bill_id": "B1", "amount": "100.00", "due_date": "2026-12-10",
            **BILL}
    pay = {"type": "payment.received", "event_id": "p1", "amount": "40.00", **ACCOUNT}
    account.fold(f, bill, T0)
    account.fold(f, pay, T0 + 60)
    account.fold(f, pay, T0 + 60)  # a producer's resend, past the engine's recent-id memory
    account.fold(f, bill, T0)
    assert f["unpaid_cents"] == 6000 and f["credit_cents"] == 0
    assert f["bills"]["B1"]["paid_cents"] == 4000


def test_money_is_exact():
    w = world(FLAGGED)
    w.send("account.risk_flagged", 0, flag="bankruptcy", **ACCOUNT)
    w.send("bill.issued", 10, bill_id="B1", amount="0.30", due_date="2026-12-10", **BILL)
    w.send("payment.received", 20, amount="0.10", **ACCOUNT)
    w.send("payment.received", 30, amount="0.20", **ACCOUNT)  # 0.1 + 0.2 != 0.3 in floats
    assert facts(w)["unpaid_cents"] == 0 and facts(w)["credit_cents"] == 0
    assert w.timeline(FLAGGED) == [("raised", "orange", z("2026-11-27T08:10")),
                                   ("resolved", "orange", z("2026-11-27T08:30"))]


def test_other_currencies_never_mix_with_cny():
    f = {}
    account.fold(f, {"type": "bill.issued", "event_id": "b1", "bill_id": "B1", "amount": "100.00",
                     "due_date": "2026-12-10", **BILL}, T0)
    account.fold(f, {"type": "payment.received", "event_id": "p1", "amount": "100.00", "currency": "USD",
                     **ACCOUNT}, T0 + 1)
    assert f["unpaid_cents"] == 10000 and f["other_currency"] == ["p1"]


def test_named_payment_pays_its_bill_and_the_rest_goes_to_the_oldest():
    f = {}
    for i, (bid, due) in enumerate((("B1", "2026-10-10"), ("B2", "2026-11-10"), ("B3", "2026-12-10"))):
        account.fold(f, {"type": "bill.issued", "event_id": f"b{i}", "bill_id": bid, "amount": "100.00",
                         "due_date": due, **BILL}, T0 + i)
    account.fold(f, {"type": "payment.received", "event_id": "p1", "bill_id": "B3", "amount": "150.00",
                     **ACCOUNT}, T0 + 10)
    assert {b: f["bills"][b]["paid_cents"] for b in f["bills"]} == {"B1": 5000, "B2": 0, "B3": 10000}
    account.fold(f, {"type": "payment.received", "event_id": "p2", "amount": "200.00", **ACCOUNT}, T0 + 20)
    assert f["unpaid_cents"] == 0 and f["credit_cents"] == 5000


def test_derived_events_are_sent_once_with_deterministic_ids():
    f = {}
    account.fold(f, {"type": "bill.issued", "event_id": "b1", "bill_id": "B1", "amount": "100.00",
                     "due_date": "2026-12-10", **BILL}, T0)
    account.fold(f, {"type": "bill.issued", "event_id": "b2", "bill_id": "B2", "amount": "50.00",
                     "due_date": "2027-01-10", **{**BILL, "period": "2026-12"}}, T0 + 1)
    account.fold(f, {"type": "payment.received", "event_id": "p1", "amount": "120.00", **ACCOUNT}, T0 + 2)
    out = account.derive(f)
    assert [(k, e["type"], e["event_id"], e["period"], e["amount"]) for k, e in out] == [
        ("district:D1", "derived.billed", "account:A1:bill:B1:billed", "2026-11", "100.00"),
        ("district:D1", "derived.billed", "account:A1:bill:B2:billed", "2026-12", "50.00"),
        ("district:D1", "derived.paid", "account:A1:payment:p1:bill:B1:paid", "2026-11", "100.00"),
        ("district:D1", "derived.paid", "account:A1:payment:p1:bill:B2:paid", "2026-12", "20.00"),
    ]
    assert all(e["ts"] in (T0, T0 + 1, T0 + 2) for _, e in out)
    assert account.derive(f) == []


def test_meter_alarms_leave_the_money_facts_alone():
    f = {}
    account.fold(f, {"type": "meter.alarm", "event_id": "m1", "meter_id": "M1", "district_id": "D9",
                     "alarm": "tamper", "account_id": "A1"}, T0)
    assert f == {"account_id": "A1", "district_id": "D9"}
    account.fold(f, {"type": "bill.issued", "event_id": "b1", "bill_id": "B1", "amount": "1.00",
                     "due_date": "2026-12-10", **BILL}, T0)
    assert f["district_id"] == "D1"


# --- billing.flagged_arrears ---------------------------------------------------------------


def test_flag_after_arrears_raises_at_the_flag_then_escalates_and_resolves():
    w = world(FLAGGED)
    w.send("bill.issued", 0, bill_id="B1", amount="80000.00", due_date="2026-12-10", event_id="bill-1", **BILL)
    assert w.of(FLAGGED) == []
    w.send("account.risk_flagged", 30, flag="liquidation", event_id="flag-1", **ACCOUNT)
    w.send("bill.issued", 60, bill_id="B2", amount="30000.00", due_date="2027-01-10", event_id="bill-2",
           **{**BILL, "period": "2026-12"})
    w.send("payment.received", 90, amount="20000.00", **ACCOUNT)  # 90 000 left: back to orange
    w.send("payment.received", 120, bill_id="B2", amount="90000.00", **ACCOUNT)
    assert w.timeline(FLAGGED) == [
        ("raised", "orange", z("2026-11-27T08:30")),
        ("escalated", "red", z("2026-11-27T09:00")),
        ("de-escalated", "orange", z("2026-11-27T09:30")),
        ("resolved", "orange", z("2026-11-27T10:00")),
    ]
    raised, red, _, resolved = w.of(FLAGGED)
    assert raised["metric"] == {"name": "flagged_unpaid_amount", "value": 80000.0, "threshold": 0.0, "unit": "CNY"}
    assert red["metric"]["value"] == 110000.0 and red["metric"]["threshold"] == 100000.0
    assert raised["evidence"] == ["flag-1", "bill-1"] and red["evidence"] == ["flag-1", "bill-1", "bill-2"]
    assert raised["scope"] == {"account_id": "A1", "district_id": "D1"}
    assert raised["risk_category"] == "fee_recovery"
    assert "liquidation" in raised["summary"] and "清算" in raised["summary_zh"]
    assert resolved["metric"]["value"] == 0.0


def test_arrears_after_flag_raises_at_the_bill():
    w = world(FLAGGED)
    w.send("account.risk_flagged", 0, flag="bankruptcy", district_id="D1", **ACCOUNT)
    w.run(600, every=60)
    assert w.of(FLAGGED) == []
    w.send("bill.issued", 700, bill_id="B1", amount="150000.00", due_date="2026-12-10", **BILL)
    assert w.timeline(FLAGGED) == [("raised", "red", z("2026-11-27T19:40"))]


def test_flag_arriving_late_stamps_when_both_were_true():
    early_flag = world(FLAGGED)  # flag happened before the bill but arrives after it
    early_flag.send("bill.issued", 100, bill_id="B1", amount="10.00", due_date="2026-12-10", **BILL)
    early_flag.tick(300)  # the clock has moved on when the flag is reported
    early_flag.send("account.risk_flagged", 50, flag="court_enforcement", **ACCOUNT)
    assert early_flag.timeline(FLAGGED) == [("raised", "orange", z("2026-11-27T09:40"))]
    late_flag = world(FLAGGED)  # flag happened after the bill, bill arrives last
    late_flag.send("account.risk_flagged", 200, flag="court_enforcement", **ACCOUNT)
    late_flag.send("bill.issued", 100, bill_id="B1", amount="10.00", due_date="2026-12-10", **BILL)
    assert late_flag.timeline(FLAGGED) == [("raised", "orange", z("2026-11-27T11:20"))]


def test_flagged_account_with_no_arrears_is_kept_for_its_next_bill():
    w = World(rulebook(only=[FLAGGED]), retention_seconds=3600)
    w.send("account.risk_flagged", 0, flag="business_closed", **ACCOUNT)
    w.run(60 * 24 * 30, every=60 * 24)
    w.send("bill.issued", 60 * 24 * 30 + 5, bill_id="B1", amount="5.00", due_date="2027-01-10", **BILL)
    assert [t[0] for t in w.timeline(FLAGGED)] == ["raised"]


# --- billing.overdue_large -----------------------------------------------------------------


def test_overdue_fires_from_the_clock_at_due_plus_30_days_then_crosses_the_year():
    w = world(OVERDUE)
    w.send("bill.issued", 0, bill_id="B1", amount="50000.00", due_date="2026-11-30", event_id="bill-1", **BILL)
    w.run(on("2026-12-29T23:59"), every=7 * 60 + 13)  # irregular ticks, no events
    w.tick(on("2026-12-29T23:59"))
    assert w.of(OVERDUE) == []
    w.run(on("2027-01-03T00:00"), every=7 * 60 + 13)
    assert w.timeline(OVERDUE) == [
        ("raised", "yellow", z("2026-12-30T00:00")),
        ("escalated", "orange", z("2027-01-01T00:00")),
    ]
    raised, orange = w.of(OVERDUE)
    assert raised["metric"] == {"name": "overdue_unpaid_amount", "value": 50000.0, "threshold": 50000.0, "unit": "CNY"}
    assert raised["evidence"] == ["bill-1"] and "30 days" in raised["summary"]
    assert orange["previous_severity"] == "yellow" and "2027" in orange["summary"]


def test_overdue_small_amount_or_not_yet_30_days_gives_nothing():
    w = world(OVERDUE)
    w.send("bill.issued", 0, bill_id="B1", amount="49999.99", due_date="2026-12-01", **BILL)
    w.send("bill.issued", 1, account_id="A2", bill_id="B2", amount="90000.00", due_date="2026-12-31",
           **{k: v for k, v in BILL.items() if k != "account_id"})
    w.run(on("2026-12-31T23:00"), every=60 * 6)
    assert w.of(OVERDUE) == []


def test_year_crossing_goes_orange_at_new_year_even_before_30_days():
    w = world(OVERDUE)
    w.send("bill.issued", 0, bill_id="B1", amount="70000.00", due_date="2026-12-20", **BILL)
    w.tick(on("2027-02-01T00:00"))  # one late tick replays every crossing at its own time
    assert w.timeline(OVERDUE) == [("raised", "orange", z("2027-01-01T00:00"))]


def test_partial_payments_keep_then_clear_the_overdue_warning():
    w = world(OVERDUE)
    w.send("bill.issued", 0, bill_id="B1", amount="80000.00", due_date="2026-11-30", **BILL)
    w.tick(on("2026-12-30T12:00"))
    w.send("payment.received", on("2026-12-30T13:00"), amount="20000.00", **ACCOUNT)  # 60 000 left
    w.send("payment.received", on("2026-12-30T14:00"), bill_id="B1", amount="15000.00", **ACCOUNT)  # 45 000
    assert facts(w)["unpaid_cents"] == 4500000
    assert w.timeline(OVERDUE) == [("raised", "yellow", z("2026-12-30T00:00")),
                                   ("resolved", "yellow", z("2026-12-30T14:00"))]
    assert w.of(OVERDUE)[-1]["metric"]["value"] == 45000.0


def test_payment_reported_before_any_tick_replays_the_crossings_before_it():
    w = world(OVERDUE)
    w.send("bill.issued", 0, bill_id="B1", amount="60000.00", due_date="2026-11-30", **BILL)
    w.send("payment.received", on("2027-01-05T10:00"), amount="60000.00", **ACCOUNT)
    assert w.timeline(OVERDUE) == [("raised", "yellow", z("2026-12-30T00:00")),
                                   ("escalated", "orange", z("2027-01-01T00:00")),
                                   ("resolved", "orange", z("2027-01-05T10:00"))]
    w.run(on("2027-03-01T00:00"), every=24 * 60)
    assert len(w.of(OVERDUE)) == 3


def test_redelivered_payment_through_the_world_does_not_resolve_twice_or_overpay():
    w = world(OVERDUE)
    w.send("bill.issued", 0, bill_id="B1", amount="100000.00", due_date="2026-11-30", **BILL)
    w.tick(on("2026-12-31T00:00"))
    w.send("payment.received", on("2026-12-31T01:00"), amount="40000.00", event_id="pay-1", **ACCOUNT)
    w.send("payment.received", on("2026-12-31T01:00"), amount="40000.00", event_id="pay-1", **ACCOUNT)
    assert facts(w)["unpaid_cents"] == 6000000
    assert w.timeline(OVERDUE) == [("raised", "yellow", z("2026-12-30T00:00"))]


# --- billing.collection_rate ---------------------------------------------------------------


def bill_district(w: World, aid: str, amount: str, period: str, due: str, minute: float, n: str = "") -> None:
    w.send("bill.issued", minute, account_id=aid, bill_id=f"{aid}-{period}{n}", district_id="D1",
           customer_class="residential", amount=amount, due_date=due, period=period)


def test_collection_rate_is_decided_10_days_after_due_and_a_good_period_resolves_it():
    w = world(RATE)
    for aid in ("A1", "A2", "A3", "A4"):
        bill_district(w, aid, "100.00", "2026-11", "2026-12-08", 0)
    bill_district(w, "A4", "50.00", "2026-11", "2026-12-10", 5, n="-b")  # the period's latest due date
    w.send("payment.received", on("2026-12-01T09:00"), account_id="A1", amount="100.00")
    w.send("payment.received", on("2026-12-05T09:00"), account_id="A2", amount="100.00")
    w.send("payment.received", on("2026-12-19T23:59"), account_id="A3", amount="100.00")
    w.send("payment.received", on("2026-12-20T00:00"), account_id="A4", amount="150.00")  # too late to count
    w.run(on("2026-12-19T23:59"), every=60)
    assert w.of(RATE) == []
    w.tick(on("2026-12-20T00:00"))
    assert w.timeline(RATE) == [("raised", "orange", z("2026-12-20T00:00"))]
    raised = w.of(RATE)[0]
    assert raised["metric"] == {"name": "collection_rate", "value": round(300 / 450, 3), "threshold": 0.9,
                                "unit": "ratio"}
    assert raised["scope"] == {"district_id": "D1"} and "2026-11" in raised["summary"]
    assert "account:A1:bill:A1-2026-11:billed" in raised["evidence"]
    for aid in ("A1", "A2"):
        bill_district(w, aid, "100.00", "2026-12", "2027-01-10", on("2026-12-27T00:00"))
        w.send("payment.received", on("2027-01-02T00:00"), account_id=aid, amount="100.00")
    w.run(on("2027-01-21T00:00"), every=60 * 6)
    assert w.timeline(RATE)[1:] == [("resolved", "orange", z("2027-01-20T00:00"))]
    assert w.of(RATE)[1]["metric"]["value"] == 1.0


def test_collection_rate_yellow_then_escalates_on_a_worse_period():
    w = world(RATE)
    for i in range(20):  # 19 of 20 paid before the cut-off: 95 %, not below it
        bill_district(w, f"A{i}", "10.00", "2026-10", "2026-11-30", 0)
        if i:
            w.send("payment.received", 10, account_id=f"A{i}", amount="10.00")
    for i in range(20):  # 18.5 of 20: 92.5 % -> yellow
        bill_district(w, f"A{i}", "10.00", "2026-11", "2026-12-15", 20)
        if i > 1:
            w.send("payment.received", 30, account_id=f"A{i}", amount="10.00")
    w.send("payment.received", 31, account_id="A1", amount="5.00", bill_id="A1-2026-11")
    for i in range(10):  # 8.9 of 10: 89 % -> orange
        bill_district(w, f"B{i}", "10.00", "2026-12", "2027-01-15", 40)
        w.send("payment.received", 50, account_id=f"B{i}", amount="8.90")
    w.run(on("2027-01-26T00:00"), every=60 * 12)
    assert w.timeline(RATE) == [("raised", "yellow", z("2026-12-25T00:00")),
                                ("escalated", "orange", z("2027-01-25T00:00"))]
    assert [m["metric"]["value"] for m in w.of(RATE)] == [0.925, 0.89]
    # The period state is dropped once decided: nothing grows with time.
    rstate = w.states["district:D1"]["rules"][RATE]
    assert rstate["periods"] == {} and rstate["decided"] == ["2026-10", "2026-11", "2026-12"]


@pytest.mark.parametrize("decided_first", [False, True])
def test_a_payment_after_the_cutoff_is_not_late_whenever_it_arrives(decided_first):
    w = World(rulebook(only=[RATE]), retention_seconds=60 * 86400)  # accounts outlive the period here
    for aid in ("A1", "A2", "A3"):
        bill_district(w, aid, "100.00", "2026-11", "2026-12-10", 0)
    w.send("payment.received", 60, account_id="A1", amount="100.00")
    if decided_first:  # the district's clock passed the cut-off before A2's payment reached it
        w.tick(on("2026-12-20T06:00"))
    w.send("payment.received", on("2026-12-20T05:00"), account_id="A2", amount="100.00")  # after 20 Dec 00:00
    w.tick(on("2026-12-21T00:00"))
    assert w.late == 0
    assert [m["metric"]["value"] for m in w.of(RATE)] == [0.333]  # the same decision in either order
    # paid in time but reported once the period was decided: late, and not counted
    w.send("payment.received", on("2026-12-19T00:00"), account_id="A3", amount="100.00")
    assert w.late == 1


def test_collection_rate_counts_a_redelivered_payment_once():
    w = world(RATE)
    bill_district(w, "A1", "100.00", "2026-11", "2026-12-10", 0)
    bill_district(w, "A2", "100.00", "2026-11", "2026-12-10", 0)
    for _ in range(2):
        w.send("payment.received", 60, account_id="A1", amount="100.00", event_id="pay-A1")
    w.send("payment.received", 70, account_id="A2", amount="80.00", event_id="pay-A2")
    w.tick(on("2026-12-20T00:00"))
    assert w.of(RATE)[0]["metric"]["value"] == 0.9 and w.of(RATE)[0]["severity"] == "yellow"
