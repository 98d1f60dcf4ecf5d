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
