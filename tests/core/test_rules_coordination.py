"""Coordination and follow-up rules, driven from input events to warnings."""

import pytest

from tests.core.world import DAY, HOUR, MIN, World, at, rulebook

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
    assert w.timeline() == [("raised", "yellow", at(start - 24 * 60)), ("escalated", "red", at(start))]


def test_cancelled_outage_resolves_its_notice_warning():
    w = world("outage.notice_short")
    schedule(w, 0, "temporary", 12 * 60)
    w.run(60, every=10)
    w.send("outage.cancelled", 90, outage_id="P1")
    w.run(24 * 60, every=60)
    assert w.timeline() == [("raised", "yellow", at(-12 * 60)), ("resolved", "yellow", at(90))]
