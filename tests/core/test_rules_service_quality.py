"""Service-quality rules driven through the engine: complaints, satisfaction, meter alarms."""

import random

import pytest

from service.core.fingerprint import fingerprint

from .world import World, at, rulebook

DAY_MIN = 1440
HOUR_MIN = 60

SURGE = "complaints.surge"
REPEAT = "complaints.staff_repeat"
BILLING = "complaints.billing_errors"
SAT = "satisfaction.low"
SAT_STAFF = "satisfaction.low_staff"
METER_SURGE = "meter.alarm_surge"
TAMPER = "meter.tamper_suspected"


def world(*rule_ids, **overrides):
    return World(rulebook(only=list(rule_ids), **overrides))


def play(w, events, delays=None):
    """Deliver events in the order the delays give them, the clock standing at each delivery.

    events: (minute, type, fields); delays: minutes each one arrives after its
    event time (default 0: live, in order).
    """
    delays = delays or [0.0] * len(events)
    arrivals = sorted(((m + d, i) for i, ((m, _, _), d) in enumerate(zip(events, delays))))
    for when, i in arrivals:
        w.tick(when)
        send(w, events[i])


def send(w, event):
    minute, type_, fields = event
    w.send(type_, minute, **dict(fields))


def complaint(minute, district="D1", category="service_attitude", **more):
    return (minute, "complaint.received", dict(complaint_id=f"c{minute}", district_id=district,
                                               category=category, **more))


def complaints(start, n, **kw):
    return [complaint(start + i * 0.1, **kw) for i in range(n)]


# --- complaints.surge ---------------------------------------------------------

def surge_history(days, per_day=4):
    """`per_day` complaints every day at 08:30 (minute 30 of each day after T0)."""
    return [e for d in range(days) for e in complaints(d * DAY_MIN + 30, per_day)]


def surge_events():
    # Days 0-11: 4 a day (a flat baseline: mean 4, deviation sqrt(4) = 2).
    # Day 10: 4 more at 18:00 (8 in 24 h, z = 2) and 2 more at 19:40 (10, z = 3).
    return sorted(surge_history(12) + complaints(10 * DAY_MIN + 600, 4) + complaints(10 * DAY_MIN + 700, 2),
                  key=lambda e: e[0])


def test_surge_raises_and_escalates_at_the_crossing_complaint_and_resolves_at_an_hour_boundary():
    w = world(SURGE)
    play(w, surge_events())
    w.tick(13 * DAY_MIN)
    assert w.timeline(SURGE) == [
        ("raised", "yellow", at(10 * DAY_MIN + 600.3)),  # the fourth 18:00 complaint makes 8: z = 2
        ("escalated", "orange", at(10 * DAY_MIN + 700.1)),  # the second at 19:40 makes 10: z = 3
        ("resolved", "orange", at(11 * DAY_MIN + 660)),  # 24 h later they leave the window
    ]
    raised = w.of(SURGE)[0]
    assert raised["metric"]["value"] == 8 and raised["metric"]["threshold"] == 8  # mean 4 + 2 * 2
    assert raised["metric"]["window_start"] == at(9 * DAY_MIN + 600.3)
    assert raised["scope"] == {"district_id": "D1"} and raised["risk_category"] == "staff_conduct"
    assert w.of(SURGE)[1]["metric"]["threshold"] == 10
    assert len(raised["evidence"]) == 8 and raised["summary_zh"]


def test_surge_is_the_same_when_events_arrive_late_and_out_of_order_within_the_lateness():
    events = surge_events()
    live = world(SURGE)
    play(live, events)
    live.tick(13 * DAY_MIN)
    rng = random.Random(7)
    shuffled = world(SURGE)
    play(shuffled, events, delays=[rng.uniform(0, 4.9) for _ in events])
    shuffled.tick(13 * DAY_MIN)
    assert shuffled.timeline(SURGE) == live.timeline(SURGE) != []
    assert shuffled.late == 0


@pytest.mark.parametrize("clock", [10 * DAY_MIN + 664, 10 * DAY_MIN + 700])
def test_surge_complaint_later_than_the_lateness_is_counted_as_late_not_used(clock):
    # 4 at 08:30 and 3 at 18:00 make 7 (z = 1.5); an eighth at 18:10 makes it yellow, if it is in time.
    w = world(SURGE)
    play(w, surge_history(11) + complaints(10 * DAY_MIN + 600, 3))
    w.tick(clock)
    send(w, complaint(10 * DAY_MIN + 610))
    w.tick(11 * DAY_MIN)
    if clock < 10 * DAY_MIN + 665:  # within the 5 min lateness of the 19:00 window end
        assert w.late == 0 and w.timeline(SURGE)[0] == ("raised", "yellow", at(10 * DAY_MIN + 610))
    else:
        assert w.late == 1 and w.of(SURGE) == []


def test_four_complaints_on_a_surge_day_are_not_a_surge_five_are():
    def burst(n):
        w = world(SURGE)
        play(w, [(0, "survey.completed", dict(survey_id="s0", district_id="D1", score=5))]  # observed since day 0
             + complaints(9 * DAY_MIN + 600, n))
        w.tick(11 * DAY_MIN)
        return w.timeline(SURGE)

    assert burst(4) == []
    # Flat-zero history: z = 5 / max(0, 0, 1) = 5, orange; gone when the burst leaves the 24 h.
    assert burst(5) == [("raised", "orange", at(9 * DAY_MIN + 600.4)), ("resolved", "orange", at(10 * DAY_MIN + 660))]


def test_surge_clears_when_the_count_drops_below_the_minimum_whatever_the_z():
    w = world(SURGE)
    play(w, [(0, "survey.completed", dict(survey_id="s0", district_id="D1", score=5))]
         + complaints(9 * DAY_MIN + 600, 1) + complaints(9 * DAY_MIN + 660, 4))
    w.tick(11 * DAY_MIN)
    assert w.timeline(SURGE) == [
        ("raised", "orange", at(9 * DAY_MIN + 660.3)),  # the fifth complaint
        # 24 h after the first complaint 4 remain: still z > 3 over a quiet history, but fewer than 5.
        ("resolved", "orange", at(10 * DAY_MIN + 660)),
    ]


def test_surge_needs_min_history_days_of_observation():
    def burst_on(day, **params):
        overrides = {SURGE: {"params": params}} if params else {}
        w = world(SURGE, **overrides)
        play(w, [complaint(30)] + complaints(day * DAY_MIN + 600, 12))  # observed from 08:00 on day 0
        w.tick((day + 2) * DAY_MIN)
        return [(kind, when) for kind, _, when in w.timeline(SURGE)]

    assert burst_on(3) == []
    assert burst_on(6) == []  # gone from the trailing 24 h before 7 days of history exist
    # Still in the trailing 24 h at 08:00 on day 8, when the 7th history day completes.
    assert burst_on(7)[0] == ("raised", at(8 * DAY_MIN))
    assert burst_on(8)[0] == ("raised", at(8 * DAY_MIN + 600.4))  # at the fifth complaint of the burst
    assert burst_on(3, min_history_days=2)[0] == ("raised", at(3 * DAY_MIN + 600.4))


def test_surge_state_is_bounded_to_the_baseline_days():
    w = world(SURGE)
    play(w, surge_history(40))
    w.tick(41 * DAY_MIN)
    buckets = w.states["district:D1"]["rules"][SURGE]["w"]["b"]
    assert len(buckets) <= 29 and min(map(float, buckets)) >= w.now - 30 * 86400


# --- complaints.staff_repeat --------------------------------------------------

def staff_complaints(minutes, staff="S1"):
    return [complaint(m, staff_id=staff) for m in minutes]


REPEATS = [0, 1000, 2000, 3000, 4000]
CLOSE_REPEATS = [0, 1, 2, 3000, 3001]
THIRTY_DAYS = 30 * DAY_MIN


def test_staff_repeat_raises_at_the_third_complaint_and_ages_out():
    w = world(REPEAT)
    play(w, staff_complaints(REPEATS[:3]))
    w.tick(2004)
    assert w.of(REPEAT) == []  # still inside the 5 min lateness
    w.tick(2005)
    assert w.timeline(REPEAT) == [("raised", "yellow", at(2000))]  # at the third complaint, not an hour later
    play(w, staff_complaints(REPEATS[3:]))
    w.tick(60 * DAY_MIN)
    assert w.timeline(REPEAT) == [
        ("raised", "yellow", at(2000)),
        ("escalated", "orange", at(4000)),
        ("de-escalated", "yellow", at(THIRTY_DAYS)),  # the first complaint is 30 days old
        ("resolved", "yellow", at(2000 + THIRTY_DAYS)),
    ]
    first = w.of(REPEAT)[0]
    assert first["scope"] == {"staff_id": "S1", "district_id": "D1"}
    assert first["fingerprint"] == fingerprint(REPEAT, {"staff_id": "S1"})
    assert first["metric"]["window_start"] == at(2000 - THIRTY_DAYS)
    assert first["evidence"] == ["e1", "e2", "e3"]
    assert w.states.get("staff:S1") is None or w.states["staff:S1"]["rules"][REPEAT]["w"]["b"] == {}


def test_staff_repeat_counts_only_complaints_naming_that_person():
    w = world(REPEAT)
    play(w, staff_complaints([0, 10]) + staff_complaints([20, 30], staff="S2") + complaints(40, 5))
    w.tick(100)
    assert w.of(REPEAT) == []


def test_staff_repeat_out_of_order_within_the_lateness_gives_the_same_timeline():
    events = staff_complaints(CLOSE_REPEATS)
    live = world(REPEAT)
    play(live, events)
    live.tick(60 * DAY_MIN)
    late = world(REPEAT)
    play(late, events, delays=[4.9, 0, 0, 4.5, 0])  # the first arrives third, 3000 after 3001
    late.tick(60 * DAY_MIN)
    assert late.timeline(REPEAT) == live.timeline(REPEAT) != [] and late.late == 0


def test_staff_repeat_redelivered_complaint_is_not_counted_twice():
    w = world(REPEAT)
    for m in (0, 10):
        w.send("complaint.received", m, event_id=f"c{m}", complaint_id=f"c{m}", district_id="D1",
               category="other", staff_id="S1")
    w.send("complaint.received", 10, event_id="c10", complaint_id="c10", district_id="D1", category="other",
           staff_id="S1")
    w.tick(100)
    assert w.of(REPEAT) == []


# --- complaints.billing_errors ------------------------------------------------

def test_billing_errors_yellow_at_5_orange_at_10_then_resolves_after_7_days():
    billing = [complaint(m, category="billing_error") for m in range(0, 1000, 100)]
    noise = [complaint(m + 50, category="repair_delay") for m in range(0, 1000, 100)]
    w = world(BILLING)
    play(w, sorted(billing + noise, key=lambda e: e[0]))
    w.tick(20 * DAY_MIN)
    seven = 7 * DAY_MIN
    assert w.timeline(BILLING) == [
        ("raised", "yellow", at(400)),
        ("escalated", "orange", at(900)),
        ("de-escalated", "yellow", at(seven)),
        ("resolved", "yellow", at(500 + seven)),  # 4 left
    ]
    assert w.of(BILLING)[0]["risk_category"] == "staff_skill"


def test_billing_errors_four_are_not_enough():
    w = world(BILLING)
    play(w, [complaint(m, category="billing_error") for m in range(4)] + complaints(10, 20))
    w.tick(3 * DAY_MIN)
    assert w.of(BILLING) == []


# --- satisfaction.low ---------------------------------------------------------

def surveys(minute, scores, staff=None, district="D1"):
    extra = {"staff_id": staff} if staff else {}
    return [(minute + i * 0.01, "survey.completed", dict(survey_id=f"s{minute}-{i}", district_id=district,
                                                          score=s, **extra)) for i, s in enumerate(scores)]


# Mean after each hour: 4.0 (no: not below 4.0), 3.909, 4.0, 3.96, 4.037, 4.257.
HOVERING = (surveys(0, [4] * 20) + surveys(60, [3, 3]) + surveys(120, [5, 5]) + surveys(180, [3])
            + surveys(240, [5, 5]) + surveys(300, [5] * 8))


def test_satisfaction_hovering_around_4_does_not_flap():
    w = world(SAT)
    play(w, HOVERING)
    w.tick(600)
    # decided at the first 5-minute window end after each hour's surveys
    assert w.timeline(SAT) == [("raised", "yellow", at(65)), ("resolved", "yellow", at(305))]
    assert w.of(SAT)[-1]["metric"]["value"] == pytest.approx(149 / 35, abs=1e-3)


def test_satisfaction_without_hysteresis_would_flap():
    # The same scores with clear thresholds equal to the raise thresholds: proof the test above tests something.
    w = world(SAT, **{SAT: {"params": {"clear": {}}}})
    play(w, HOVERING)
    w.tick(600)
    assert [k for k, _, _ in w.timeline(SAT)] == ["raised", "resolved", "raised", "resolved"]


def test_satisfaction_raises_escalates_and_resolves():
    w = world(SAT)
    play(w, surveys(0, [4] * 20) + surveys(60, [3, 3]) + surveys(120, [3] * 20) + surveys(180, [5] * 60))
    w.tick(600)
    assert w.timeline(SAT) == [
        ("raised", "yellow", at(65)),  # 3.909
        ("escalated", "orange", at(125)),  # 146 / 42 = 3.476
        ("resolved", "orange", at(185)),  # 446 / 102 = 4.37
    ]
    assert w.of(SAT)[1]["previous_severity"] == "yellow"


def test_satisfaction_needs_20_responses():
    w = world(SAT)
    play(w, surveys(0, [1] * 19))
    w.tick(300)
    assert w.of(SAT) == []
    play(w, surveys(300, [1]))
    w.tick(400)
    assert w.timeline(SAT) == [("raised", "orange", at(305))]


def test_satisfaction_resolves_when_the_surveys_age_out():
    w = world(SAT)
    play(w, surveys(0, [2] * 20))
    w.tick(8 * DAY_MIN)
    assert w.timeline(SAT) == [("raised", "orange", at(5)), ("resolved", "orange", at(7 * DAY_MIN + 5))]


def test_satisfaction_per_staff_member_is_its_own_warning():
    w = world(SAT, SAT_STAFF)
    play(w, surveys(0, [2] * 20, staff="S7") + surveys(0, [5] * 40))
    w.tick(120)
    (staff,) = w.of(SAT_STAFF)
    assert staff["severity"] == "orange" and staff["scope"] == {"staff_id": "S7", "district_id": "D1"}
    assert staff["fingerprint"] == fingerprint(SAT_STAFF, {"staff_id": "S7"})
    assert "S7" in staff["summary"] and "S7" in staff["summary_zh"]
    assert w.of(SAT) == []  # the district's mean is 4.0


def test_satisfaction_late_and_shuffled_surveys_within_the_lateness_agree():
    live = world(SAT)
    play(live, HOVERING)
    live.tick(600)
    rng = random.Random(3)
    shuffled = world(SAT)
    play(shuffled, HOVERING, delays=[rng.uniform(0, 4.9) for _ in HOVERING])
    shuffled.tick(600)
    assert shuffled.timeline(SAT) == live.timeline(SAT)


# --- meter.alarm_surge --------------------------------------------------------

def alarms(minute, n, kind="communication_loss", district="D1", account=None):
    extra = {"account_id": account} if account else {}
    return [(minute + i * 0.01, "meter.alarm", dict(meter_id=f"m{minute}-{i}", district_id=district, alarm=kind,
                                                   **extra)) for i in range(n)]


def test_meter_alarm_surge_against_the_hourly_baseline():
    # 9 alarms every hour at :07 for 3 days (mean 9, deviation 3); 9 more at 18:20 on day 2: 18, z = 3.
    regular = [e for h in range(72) for e in alarms(h * HOUR_MIN + 7, 9)]
    w = world(METER_SURGE)
    play(w, sorted(regular + alarms(2 * DAY_MIN + 20, 9), key=lambda e: e[0]))
    w.tick(3 * DAY_MIN)
    assert w.timeline(METER_SURGE) == [
        ("raised", "yellow", at(2 * DAY_MIN + 20.08)),  # at the ninth 18:20 alarm, not when its quarter closes
        ("resolved", "yellow", at(2 * DAY_MIN + 90)),  # an hour later they leave the window
    ]
    raised = w.of(METER_SURGE)[0]
    assert raised["metric"] == {"name": "meter_alarms_1h", "value": 18, "threshold": 18, "unit": "alarms",
                                "window_start": at(2 * DAY_MIN - 39.92), "window_end": at(2 * DAY_MIN + 20.08)}
    assert raised["risk_category"] == "equipment"


def test_meter_alarm_surge_one_alarm_short_of_z3_is_quiet():
    regular = [e for h in range(72) for e in alarms(h * HOUR_MIN + 7, 9)]
    w = world(METER_SURGE)
    play(w, sorted(regular + alarms(2 * DAY_MIN + 20, 8), key=lambda e: e[0]))
    w.tick(3 * DAY_MIN)
    assert w.of(METER_SURGE) == []


def test_meter_alarm_surge_needs_10_alarms_and_a_day_of_history():
    def burst(n, hour):
        w = world(METER_SURGE)
        play(w, alarms(0, 1, kind="clock_error") + alarms(hour * HOUR_MIN, n))
        w.tick(hour * HOUR_MIN + 180)
        return [k for k, _, _ in w.timeline(METER_SURGE)]

    assert burst(9, 30) == []
    assert burst(10, 30) == ["raised", "resolved"]
    assert burst(30, 20) == []  # less than a day observed


def test_meter_alarm_surge_counts_only_the_configured_alarm_kinds():
    def burst(**params):
        w = world(METER_SURGE, **({METER_SURGE: {"params": params}} if params else {}))
        play(w, alarms(0, 1, kind="clock_error") + alarms(30 * HOUR_MIN, 12, kind="communication_loss"))
        w.tick(34 * HOUR_MIN)
        return w.of(METER_SURGE)

    assert len(burst()) == 2
    assert burst(alarms=["voltage_loss", "tamper"]) == []


# --- meter.tamper_suspected ---------------------------------------------------

SEVEN_DAYS = 7 * DAY_MIN


def tamper_events():
    return (alarms(100, 1, kind="tamper", account="A1") + alarms(150, 1, kind="voltage_loss", account="A1")
            + alarms(200, 1, kind="tamper", account="A1") + alarms(300, 1, kind="zero_consumption", account="A1"))


def test_tamper_raised_at_the_exact_time_of_the_second_distinct_kind():
    w = world(TAMPER)
    play(w, tamper_events())
    w.tick(304)
    assert w.of(TAMPER) == []  # decided once the lateness has passed
    w.tick(305)
    assert w.timeline(TAMPER) == [("raised", "orange", at(300))]
    raised = w.of(TAMPER)[0]
    assert raised["scope"] == {"account_id": "A1", "district_id": "D1"}
    assert raised["fingerprint"] == fingerprint(TAMPER, {"account_id": "A1"})
    assert raised["metric"]["value"] == 2 and raised["evidence"] == ["e1", "e3", "e4"]
    # The first tamper alarm ageing out changes nothing (a second one is in the window); the second does.
    w.tick(SEVEN_DAYS + 250)
    assert w.timeline(TAMPER)[-1] == ("resolved", "orange", at(200 + SEVEN_DAYS))
    assert len(w.of(TAMPER)) == 2


def test_tamper_repeats_of_one_kind_are_not_two_kinds():
    w = world(TAMPER)
    play(w, alarms(0, 5, kind="tamper", account="A1") + alarms(10, 5, kind="communication_loss", account="A1"))
    w.tick(DAY_MIN)
    assert w.of(TAMPER) == []


def test_tamper_out_of_order_within_the_lateness_agrees_and_beyond_it_is_late():
    events = alarms(298, 1, kind="tamper", account="A1") + alarms(300, 1, kind="zero_consumption", account="A1")
    live = world(TAMPER)
    play(live, events)
    live.tick(SEVEN_DAYS + 500)
    shuffled = world(TAMPER)
    play(shuffled, events, delays=[4.9, 0])  # the tamper alarm arrives after the zero consumption
    shuffled.tick(SEVEN_DAYS + 500)
    assert shuffled.timeline(TAMPER) == live.timeline(TAMPER) == [
        ("raised", "orange", at(300)), ("resolved", "orange", at(298 + SEVEN_DAYS))]
    assert shuffled.late == 0

    w = world(TAMPER)
    play(w, alarms(300, 1, kind="zero_consumption", account="A1"))
    w.tick(320)
    send(w, alarms(290, 1, kind="tamper", account="A1")[0])  # 30 min late
    w.tick(400)
    assert w.late == 1 and w.of(TAMPER) == []


def test_tamper_change_point_waits_for_the_clock_not_for_a_bill_from_another_topic():
    """An account hears from two topics: bills (billing events) and meter alarms
    (service events). A bill read ahead of the alarms must not decide the
    alarms' change points while the clock is still behind them."""
    w = world(TAMPER)
    play(w, alarms(10, 1, kind="tamper", account="A1"))
    w.tick(30)
    w.send("bill.issued", 200, account_id="A1", bill_id="B1", district_id="D1", customer_class="residential",
           period="2026-11", amount="100.00", due_date="2026-12-20")
    send(w, alarms(100, 1, kind="zero_consumption", account="A1")[0])  # its partition is behind the bill's
    w.tick(110)
    assert w.late == 0
    assert w.timeline(TAMPER) == [("raised", "orange", at(100))]


def test_tamper_alarms_without_account_touch_no_account():
    w = world(TAMPER)
    play(w, alarms(0, 1, kind="tamper") + alarms(5, 1, kind="reverse_energy"))
    w.tick(100)
    assert w.of(TAMPER) == [] and not any(k.startswith("account:") for k in w.states)


# --- floods: what a recent-events rule keeps -----------------------------------

def flood(seed, make, days=60):
    """Quiet spells and floods (up to ~90 an hour, some at the same instant) over `days`,
    arriving in order, up to 4.9 min late, or now and then 30 min late (counted as late)."""
    rng = random.Random(seed)
    events, delays, minute = [], [], 0.0
    while minute < days * DAY_MIN:
        rate, spell = rng.choice([(0.001, 3 * DAY_MIN), (0.005, 2 * DAY_MIN), (0.3, 300), (1.5, 60), (0, 8 * DAY_MIN)])
        end = minute + spell
        if not rate:  # silence: everything ages out
            minute = end
        while minute < end:
            minute += rng.expovariate(rate) if rng.random() > 0.1 else 0.0
            events.append(make(rng, minute))
            delays.append(30.0 if rng.random() < 0.01 else rng.choice([0.0, 0.0, rng.uniform(0, 4.9)]))
    return events, delays


def replay(events, delays, rule, days=70):
    w = world(rule)
    play(w, events, delays)
    w.run(days * DAY_MIN, every=60.0)
    return w


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("rule, make", [
    (BILLING, lambda rng, m: complaint(m, category=rng.choice(["billing_error"] * 3 + ["repair_delay"]))),
    (TAMPER, lambda rng, m: alarms(m, 1, account="A1", kind=rng.choice(
        ["tamper"] * 20 + ["reverse_energy", "voltage_loss"]))[0]),  # the second kind is rare
])
def test_a_flood_is_kept_small_and_decided_as_if_every_event_were_kept(seed, rule, make, monkeypatch):
    from service.core.rules.complaints_staff_repeat import RecentEventsRule

    events, delays = flood(seed, make)
    kept = replay(events, delays, rule)
    monkeypatch.setattr(RecentEventsRule, "keep", staticmethod(lambda params: 10**9))
    every = replay(events, delays, rule)
    assert len(every.of(rule)) >= 4 and kept.late == every.late
    # times, values, every field; a bounded store may cite fewer events: the newest of those it cites,
    # none dated after the change (those it keeps past that moment took the older ones' places)
    assert [{**m, "evidence": None} for m in kept.warnings] == [{**m, "evidence": None} for m in every.warnings]
    for k, e in zip(kept.warnings, every.warnings):
        assert not k["evidence"] or e["evidence"][-len(k["evidence"]):] == k["evidence"], (k["evidence"], e["evidence"])
    assert any(m["evidence"] for m in kept.warnings if m["transition"] == "raised")


def test_a_district_in_a_billing_error_flood_keeps_the_newest_complaints_and_hourly_tallies():
    w = world(BILLING)
    play(w, [complaint(m * 0.6, category="billing_error") for m in range(5000)])  # 100 an hour for 50 h
    w.tick(3000 + 10)
    rstate = w.states["district:D1"]["rules"][BILLING]["w"]
    assert sum(len(e) for e in rstate["b"].values()) == 20  # the newest, one by one: the evidence
    assert sum(n for n, _ in rstate["old"].values()) == 4980 and len(rstate["old"]) <= 51
    [raised, escalated] = w.of(BILLING)
    assert (escalated["transition"], escalated["metric"]["value"]) == ("escalated", 10)
    w.tick(3000 + 7 * DAY_MIN + 10)  # all aged out, at the times they would have
    assert w.timeline(BILLING)[-2:] == [("de-escalated", "yellow", at(2994.0 + 7 * DAY_MIN)),
                                         ("resolved", "yellow", at(2997.0 + 7 * DAY_MIN))]
