"""Coordination and follow-up rules, driven from input events to warnings."""

import math

import pytest

from schemas.warnings import RiskWarning

from tests.core.world import MIN, T0, World, at, rulebook

TICKET = dict(ticket_id="T1", district_id="D1", category="no_power", priority="normal")
OUTAGE = dict(outage_id="O1", district_id="D1", feeder_id="F1", area_type="rural", customers_affected=300)


def world(*rules, **kw):
    return World(rulebook(only=list(rules)), **kw)


@pytest.mark.parametrize("area,limit_h", [("urban", 3), ("rural", 4), ("remote", 6)])
def test_restore_overdue_counts_from_arrival(area, limit_h):
    w = world("repair.restore_overdue")
    w.send("ticket.created", 0, area_type=area, **TICKET)
    w.send("ticket.arrived", 30, ticket_id="T1")
    w.run(30 + 13 * 60, every=30)
    assert w.timeline() == [
        ("raised", "yellow", at(30 + 0.8 * limit_h * 60)),
        ("escalated", "orange", at(30 + limit_h * 60)),
        ("escalated", "red", at(30 + 12 * 60)),
    ]
    w.send("ticket.completed", 30 + 13 * 60, ticket_id="T1")
    assert w.timeline()[-1] == ("resolved", "red", at(30 + 13 * 60))


def test_restore_in_time_is_silent_and_needs_an_arrival_to_start():
    w = world("repair.restore_overdue")
    w.send("ticket.created", 0, area_type="urban", **TICKET)
    w.run(10 * 60, every=30)
    assert w.warnings == []  # no arrival: the arrival rule's business, not this one's
    w.send("ticket.arrived", 600, ticket_id="T1")
    w.send("ticket.completed", 700, ticket_id="T1")
    w.run(2000, every=60)
    assert w.warnings == []


def test_long_duration_orange_12h_red_24h_resolved_on_restore():
    w = world("outage.long_duration")
    w.send("outage.started", 0, kind="unplanned", **OUTAGE)
    w.run(25 * 60, every=60)
    w.send("outage.restored", 26 * 60, outage_id="O1")
    assert w.timeline() == [("raised", "orange", at(12 * 60)), ("escalated", "red", at(24 * 60)),
                            ("resolved", "red", at(26 * 60))]
    assert w.of("outage.long_duration")[0]["metric"]["unit"] == "h"
    assert w.of("outage.long_duration")[-1]["metric"]["value"] == 26


def test_followup_missing_after_completion_and_resolved_by_the_visit():
    w = world("followup.missing")
    w.send("ticket.created", 0, area_type="urban", **TICKET)
    w.send("ticket.arrived", 20, ticket_id="T1")
    w.send("ticket.completed", 60, ticket_id="T1")
    w.run(60 + 80 * 60, every=60)
    assert w.timeline() == [("raised", "yellow", at(60 + 24 * 60)), ("escalated", "orange", at(60 + 72 * 60))]
    w.send("ticket.followed_up", 60 + 80 * 60, ticket_id="T1", satisfied=True)
    assert w.timeline()[-1] == ("resolved", "orange", at(60 + 80 * 60))


def test_ticket_rules_share_one_subject_and_keep_separate_fingerprints():
    w = world("repair.arrival_overdue", "repair.restore_overdue", "followup.missing")
    w.send("ticket.created", 0, area_type="urban", **TICKET)
    w.send("ticket.arrived", 50, ticket_id="T1")
    w.send("ticket.completed", 50 + 200, ticket_id="T1")
    w.run(50 + 200 + 25 * 60, every=60)
    fps = {w_["rule_id"]: w_["fingerprint"] for w_ in w.warnings}
    assert set(fps) == {"repair.arrival_overdue", "repair.restore_overdue", "followup.missing"}
    assert len(set(fps.values())) == 3


PLANNED = dict(outage_id="P1", district_id="D1", feeder_id="F1", area_type="urban", customers_affected=800)


def schedule(w, minute, kind, start_minute, hours=4):
    from tests.core.world import T0
    from service.core.timefmt import to_rfc3339

    w.send("outage.scheduled", minute, kind=kind, scheduled_start=to_rfc3339(T0 + start_minute * MIN),
           scheduled_end=to_rfc3339(T0 + (start_minute + hours * 60) * MIN), **PLANNED)


def test_planned_outage_with_full_notice_is_silent():
    w = world("outage.notice_short")
    start = 10 * 24 * 60
    schedule(w, 0, "planned", start)
    w.send("outage.notice_published", 60, outage_id="P1", channel="sms")
    w.run(start, every=60)
    w.send("outage.started", start, kind="planned", **PLANNED)
    w.send("outage.restored", start + 240, outage_id="P1")
    assert w.warnings == []


def test_planned_outage_inside_notice_period_then_short_notice_then_resolved():
    w = world("outage.notice_short")
    start = 10 * 24 * 60
    schedule(w, 0, "planned", start)
    w.run(3 * 24 * 60 + 60, every=60)  # the 7-day notice period began at day 3
    assert w.timeline() == [("raised", "yellow", at(3 * 24 * 60))]
    w.send("outage.notice_published", 5 * 24 * 60, outage_id="P1", channel="web")
    assert w.timeline()[-1] == ("escalated", "orange", at(5 * 24 * 60))
    assert w.of("outage.notice_short")[-1]["metric"]["value"] == 120  # 5 days of lead, in hours
    w.send("outage.started", start, kind="planned", **PLANNED)
    w.send("outage.restored", start + 240, outage_id="P1")
    assert w.timeline()[-1] == ("resolved", "orange", at(start + 240))


def test_temporary_outage_that_starts_without_notice_goes_red_from_the_clock():
    w = world("outage.notice_short")
    start = 12 * 60
    schedule(w, 0, "temporary", start)  # announced internally 12 h ahead: already inside 24 h
    w.run(start + 30, every=10)
    # yellow when the schedule became known (already inside the 24 h), not before
    assert w.timeline() == [("raised", "yellow", at(0)), ("escalated", "red", at(start))]


def test_cancelled_outage_resolves_its_notice_warning():
    w = world("outage.notice_short")
    schedule(w, 0, "temporary", 12 * 60)
    w.run(60, every=10)
    w.send("outage.cancelled", 90, outage_id="P1")
    w.run(24 * 60, every=60)
    assert w.timeline() == [("raised", "yellow", at(0)), ("resolved", "yellow", at(90))]


def tickets_arriving(w, first, count, arrive_after, district="D1", area="urban", prefix="A"):
    for i in range(count):
        tid = f"{prefix}{first + i}"
        w.send("ticket.created", first + i, ticket_id=tid, district_id=district, area_type=area,
               category="no_power", priority="normal")
        w.send("ticket.arrived", first + i + arrive_after, ticket_id=tid)


def test_arrival_p90_raises_at_the_window_end_and_clears_with_hysteresis():
    w = world("repair.arrival_p90")
    tickets_arriving(w, 0, 5, 50)  # arrivals at minutes 50-54, all over the 45 min limit
    w.run(59, every=1)
    assert w.warnings == []  # the window ending at 55 is decided only after 5 min of lateness
    w.run(61, every=1)
    assert w.timeline() == [("raised", "orange", at(55))]
    first = w.warnings[0]
    assert first["metric"]["value"] == pytest.approx(50, rel=0.01) and first["metric"]["threshold"] == 45
    assert first["metric"]["window_start"] == at(-5) and first["metric"]["window_end"] == at(55)
    assert first["scope"] == {"district_id": "D1"} and len(first["evidence"]) == 5
    # p90 of 42 min: under the limit but above 90 % of it, so the warning holds (no flapping)
    tickets_arriving(w, 60, 10, 42, prefix="B")  # arrivals at 102-111
    w.run(165, every=1)
    assert [t[0] for t in w.timeline()] == ["raised"]
    tickets_arriving(w, 166, 10, 20, prefix="C")  # fast again: p90 20 min
    w.run(300, every=1)
    assert w.timeline()[-1][0] == "resolved"


def test_arrival_p90_needs_five_samples():
    w = world("repair.arrival_p90")
    tickets_arriving(w, 0, 4, 80)
    w.run(200, every=1)
    assert w.warnings == []


def test_sla_breach_ratio_levels_and_minimum_samples():
    w = world("repair.sla_breach_ratio")
    tickets_arriving(w, 0, 9, 60)  # 9 late: below the 10-sample minimum
    w.run(200, every=5)
    assert w.warnings == []
    w = world("repair.sla_breach_ratio")
    tickets_arriving(w, 0, 9, 60)
    tickets_arriving(w, 70, 11, 10, prefix="B")  # in time, arriving at 80-90
    w.run(200, every=5)
    # the window moves every 5 min: the first end with 10 samples is 85 (9 late of 14), not the hour after
    assert w.timeline() == [("raised", "red", at(85))]
    assert w.warnings[0]["metric"]["value"] == pytest.approx(9 / 14, abs=1e-3)


def test_sla_breach_ratio_is_decided_at_its_window_end_not_when_it_first_looks_high():
    """A ratio is not raised at a crossing: in-time arrivals later in the same 5 minutes can still
    bring it under. Here 10 late crews (100 %, the sample minimum reached) come first, then 200 in
    time before the window ends: 10 of 210 is under 5 %, nothing is raised. Nothing bounds how many
    samples the rest of a window brings, so a raise before its end is never certain."""
    w = world("repair.sla_breach_ratio")
    for i in range(10):  # late: arriving at 60.0-60.45, 60 min after their reports
        w.send("ticket.created", 0.05 * i, ticket_id=f"L{i}", district_id="D1", area_type="urban",
               category="no_power", priority="normal")
        w.send("ticket.arrived", 60 + 0.05 * i, ticket_id=f"L{i}")
    w.run(61, every=0.25)  # the clock passes the 10 late arrivals
    for i in range(200):  # in time: arriving at 61-63, 21 min after their reports
        w.send("ticket.created", 40 + 0.01 * i, ticket_id=f"T{i}", district_id="D1", area_type="urban",
               category="no_power", priority="normal")
        w.send("ticket.arrived", 61 + 0.01 * i, ticket_id=f"T{i}")
    w.run(200, every=1)
    assert w.of("repair.sla_breach_ratio") == []
    assert w.states["district:D1"]["rules"]["repair.sla_breach_ratio"]["w"]["evaluated"] is not None  # decided


def test_sla_breach_ratio_judges_each_ticket_by_its_own_area():
    w = world("repair.sla_breach_ratio")
    tickets_arriving(w, 0, 10, 80, area="rural")  # 80 min is in time for rural (90)
    w.run(200, every=5)
    assert w.warnings == []


def test_dissatisfied_followups_ratio():
    w = world("followup.dissatisfied_ratio")
    for i in range(10):
        tid = f"F{i}"
        w.send("ticket.created", i, ticket_id=tid, district_id="D1", area_type="urban", category="other", priority="normal")
        w.send("ticket.completed", 30 + i, ticket_id=tid)
        w.send("ticket.followed_up", 100 + i, ticket_id=tid, satisfied=i >= 3)  # 3 of 10 unhappy
    w.run(300, every=10)
    # stamped at the first 5-minute window end holding the 10 follow-ups, decided after lateness
    assert w.timeline() == [("raised", "orange", at(110))]


def test_frequent_feeder_counts_sustained_outages_only():
    w = world("outage.frequent_feeder")
    day = 24 * 60
    for i in range(6):
        oid = f"O{i}"
        w.send("outage.started", i * day, outage_id=oid, kind="unplanned", district_id="D1", feeder_id="F1",
               area_type="rural", customers_affected=10)
        w.send("outage.restored", i * day + (3 if i == 1 else 30), outage_id=oid)  # O1 lasts 3 min: momentary
    w.run(6 * day, every=60)
    got = w.timeline()
    # sustained outages restored on days 0, 2, 3 (third: yellow) and 4, 5 (fifth: orange): raised and
    # escalated by the restore that crosses the count, at its time, not at the window end after it
    assert got == [("raised", "yellow", at(3 * day + 30)), ("escalated", "orange", at(5 * day + 30))]
    assert w.of("outage.frequent_feeder")[0]["scope"] == {"feeder_id": "F1", "district_id": "D1"}
    w.run(70 * day, every=60 * 6)
    assert w.timeline()[-1][0] == "resolved"


def outages_started(w, district, first_minute, count, customers=10, spacing=1.0, prefix="S"):
    for i in range(count):
        oid = f"{prefix}{first_minute}-{i}"
        w.send("outage.started", first_minute + i * spacing, outage_id=oid, kind="unplanned", district_id=district,
               feeder_id=f"F{i % 7}", area_type="rural", customers_affected=customers)
        w.send("outage.restored", first_minute + i * spacing + 90, outage_id=oid)


def test_storm_mode_from_an_outage_burst_against_the_hourly_baseline_and_inhibits_ticket_warnings():

    w = world("reliability.storm_mode", "repair.arrival_overdue")
    day = 24 * 60
    for d in range(3):  # three quiet days: one outage every six hours
        outages_started(w, "D1", d * day, 4, spacing=360, prefix=f"q{d}")
    w.run(3 * day, every=60)
    assert w.of("reliability.storm_mode") == []
    outages_started(w, "D1", 3 * day + 5, 30, spacing=1.5, prefix="storm")  # 30 in 45 minutes
    w.run(3 * day + 70, every=5)
    storm = w.of("reliability.storm_mode")
    # declared at the fifth outage of the burst (5 in the hour, z far above 3), not when its hour closes
    assert [(x["transition"], x["severity"], x["changed_at"]) for x in storm] == [("raised", "blue", at(3 * day + 11))]
    w.engine.storm_districts = lambda: {"D1"}  # the shell's GlobalTable, after it saw the raise
    w.send("ticket.created", 3 * day + 70, ticket_id="TS", district_id="D1", area_type="urban",
           category="no_power", priority="normal")
    w.run(3 * day + 120, every=5)
    ticket = w.of("repair.arrival_overdue")
    assert ticket and all(x["suppressed_by"] == ["storm_mode"] for x in ticket)
    w.run(3 * day + 200, every=10)
    assert w.of("reliability.storm_mode")[-1]["transition"] == "resolved"


def test_storm_mode_from_the_share_of_customers_interrupted():
    from service.core.reference import District

    w = world("reliability.storm_mode")
    w.engine.districts = {"D1": District(district_id="D1", name="One", area_type="rural",
                                         customers_served=10000, recipient_group="g1")}
    outages_started(w, "D1", 0, 3, customers=200, spacing=20)  # 600 of 10 000: 6 %
    w.run(70, every=5)
    assert [x["transition"] for x in w.of("reliability.storm_mode")] == ["raised"]
    assert w.of("reliability.storm_mode")[0]["changed_at"] == at(40)  # at the third outage: 6 %


def test_storm_mode_is_declared_by_the_outage_that_crosses_without_waiting_for_a_clock():
    from service.core.reference import District

    w = world("reliability.storm_mode")
    w.engine.districts = {"D1": District(district_id="D1", name="One", area_type="rural",
                                         customers_served=10000, recipient_group="g1")}
    outages_started(w, "D1", 0, 2, customers=200, spacing=7)  # 0 and 7: 4 %
    assert w.of("reliability.storm_mode") == []
    outages_started(w, "D1", 3, 1, customers=200, prefix="L")  # a third, dated 3, arrives last: 6 %
    # no tick has run: the clock has not reached the outages, so an earlier one may still be in flight
    assert w.now == float("-inf")
    assert w.of("reliability.storm_mode") == []
    w.run(60, every=5)  # once it has, declared as of when all three had started (7), not at 3 nor at a window end
    assert [(x["transition"], x["changed_at"]) for x in w.of("reliability.storm_mode")] == [("raised", at(7))]


def test_a_warning_changing_state_too_often_is_marked_flapping():
    quick = {"params": {"limit_minutes": {"urban": 45, "rural": 90, "remote": 120}, "window_minutes": 5,
                        "step_minutes": 5, "lateness_minutes": 0, "min_samples": 1,
                        "raise": {"orange": 1.0}, "clear": {"orange": 1.0}}}  # no hysteresis: it will flap
    w = World(rulebook(only=["repair.arrival_p90"], **{"repair.arrival_p90": quick}))
    for i in range(8):  # every 5 minutes, alternately a late and a prompt crew
        tid = f"X{i}"
        w.send("ticket.created", i * 5, ticket_id=tid, district_id="D1", area_type="urban",
               category="no_power", priority="normal")
        w.send("ticket.arrived", i * 5 + (60 if i % 2 == 0 else 10), ticket_id=tid)
    w.run(200, every=5)
    flags = [(x["transition"], x["flapping"]) for x in w.of("repair.arrival_p90")]
    assert len(flags) >= 7
    assert [f for _, f in flags[:5]] == [False] * 5 and all(f for _, f in flags[5:])


def test_engine_reports_district_statistics_for_dashboards():
    w = world("repair.arrival_p90")
    stats = []
    original = w._take

    def take(key, r):
        stats.extend(r.stats)
        original(key, r)

    w._take = take
    tickets_arriving(w, 0, 5, 30)
    w.run(70, every=5)
    assert ("arrival_p90_minutes", "D1", pytest.approx(30, rel=0.01)) in stats
    w2 = world("outage.notice_late")
    w2._take = lambda key, r: (stats.extend(r.stats), World._take(w2, key, r))
    w2.send("outage.started", 0, kind="unplanned", **OUTAGE)
    w2.send("outage.notice_published", 12, outage_id="O1", channel="sms")
    assert ("notice_delay_minutes", "D1", 12.0) in stats


def test_storm_mode_hour_is_closed_by_the_clock_not_by_a_later_outage_start():
    """Outage starts reach their district from the outages' own partitions, so out
    of order: one started at 09:10 arriving before one started at 08:59 must not
    close 08:00-09:00 while the aggregate clock (the partitions' marks) is at 08:30."""
    engine = world("reliability.storm_mode").engine

    def started(oid, minute):
        return {"type": "derived.outage_started", "event_id": f"outage:{oid}:started", "ts": T0 + minute * MIN,
                "outage_id": oid, "district_id": "D1", "kind": "unplanned", "customers_affected": 10}

    clock = T0 + 30 * MIN
    state = None
    late = []
    for oid, minute in (("A", 10), ("B", 70), ("C", 59)):
        r = engine.on_event("district:D1", state, started(oid, minute), T0 + minute * MIN, clock)
        state = r.state
        late.append(r.late)
    assert late == [0, 0, 0]
    assert sorted(float(b) for b in state["rules"]["reliability.storm_mode"]["w"]["b"]) == \
        [T0 + 10 * MIN, T0 + 55 * MIN, T0 + 70 * MIN]
    assert engine.on_tick(state, T0 + 70 * MIN).state["rules"]["reliability.storm_mode"]["w"]["evaluated"] == \
        T0 + 65 * MIN  # the clock (less the lateness) decides the windows, with A and C in them


def test_one_big_outage_in_a_small_district_is_not_a_storm():
    from service.core.reference import District

    w = world("reliability.storm_mode")
    w.engine.districts = {"D1": District(district_id="D1", name="One", area_type="remote",
                                         customers_served=9000, recipient_group="g1")}
    outages_started(w, "D1", 0, 1, customers=900)  # 10 % of customers, one feeder
    w.run(200, every=5)
    assert w.of("reliability.storm_mode") == []


def test_a_window_that_empties_resolves_without_pretending_a_value():
    w = world("repair.arrival_p90")
    stats = []
    w._take = lambda key, r: (stats.extend(r.stats), World._take(w, key, r))
    tickets_arriving(w, 0, 5, 50)  # p90 50 min > 45: raised at minute 55
    w.run(200, every=1)  # no arrival after minute 54: the hour's window empties at 114
    assert w.timeline() == [("raised", "orange", at(55)), ("resolved", "orange", at(115))]
    resolved = w.warnings[-1]
    assert resolved["no_samples"] is True and "no_samples" not in w.warnings[0]
    assert resolved["summary"] == ("repair.arrival_p90 cleared for D1: no samples in the last 60 min, "
                                   "nothing to judge.")  # not "back to normal: p90 0 min"
    assert resolved["summary_zh"] == "D1近60分钟无样本，无从判断，repair.arrival_p90预警解除。"
    RiskWarning.model_validate({**resolved, "emitted_at": resolved["changed_at"]})
    assert stats[0] == ("arrival_p90_minutes", "D1", pytest.approx(50, rel=0.01))
    assert stats[-1][:2] == ("arrival_p90_minutes", "D1") and math.isnan(stats[-1][2])  # a gap, not 0


def test_a_quiet_district_whose_window_empties_shows_a_gap_not_its_last_value():
    w = world("repair.arrival_p90")
    stats = []
    w._take = lambda key, r: (stats.extend(r.stats), World._take(w, key, r))
    tickets_arriving(w, 0, 5, 20)  # p90 20 min: never fires
    w.run(200, every=1)
    assert w.warnings == []
    p90 = [v for name, _, v in stats if name == "arrival_p90_minutes"]
    assert p90[0] == pytest.approx(20, rel=0.01) and math.isnan(p90[-1])
