"""The two deadline rules driven through the engine, as the shell drives them."""

import math
from pathlib import Path

import pytest
import yaml

from service.core.engine import Engine
from service.core.fingerprint import fingerprint
from service.core.rulebook import ConfigError, RuleBook
from service.core.timefmt import to_epoch, to_rfc3339

RULES_FILE = Path(__file__).parents[2] / "service" / "defaults" / "rules.yaml"
T0 = to_epoch("2026-11-27T08:00:00+00:00")
MIN = 60.0


def rulebook(**overrides):
    data = yaml.safe_load(RULES_FILE.read_text())
    data["rules"] = {k: v for k, v in data["rules"].items() if k in ("repair.arrival_overdue", "outage.notice_late")}
    for rule_id, entry in overrides.items():
        data["rules"][rule_id].update(entry)
    return RuleBook.from_mapping(data, str(RULES_FILE))


def ev(type_, minute, n=[0], **fields):
    n[0] += 1
    return {"type": type_, "event_id": f"e{n[0]}", **fields}, T0 + minute * MIN


class Driver:
    """Feeds events and ticks to one key, as the Faust shell would."""

    def __init__(self, engine=None):
        self.engine = engine or Engine(rulebook())
        self.state = None
        self.out = []
        self.wake = None

    def event(self, type_, minute, **fields):
        event, ts = ev(type_, minute, **fields)
        key = f"{type_.split('.')[0]}:{fields.get('ticket_id') or fields.get('outage_id')}"
        r = self.engine.on_event(key, self.state, event, ts, now=0)
        self._take(r)

    def tick(self, minute):
        r = self.engine.on_tick(self.state, T0 + minute * MIN)
        self._take(r)

    def _take(self, r):
        self.state, self.wake = r.state, r.wake_at
        self.out += r.warnings

    def timeline(self):
        return [(w["transition"], w["severity"], w["changed_at"]) for w in self.out]


def just_after(t):
    """A deadline's wake time: the limit is exceeded just past it."""
    return math.nextafter(t, math.inf)


def at(minute):
    return to_rfc3339(T0 + minute * MIN)


TICKET = dict(ticket_id="T1", district_id="D1", category="no_power", priority="normal")


@pytest.mark.parametrize("area,limit", [("urban", 45), ("rural", 90), ("remote", 120)])
def test_arrival_overdue_uses_the_area_limit(area, limit):
    d = Driver()
    d.event("ticket.created", 0, area_type=area, **TICKET)
    assert d.wake == just_after(T0 + 0.8 * limit * MIN)
    d.tick(3 * limit)
    assert d.timeline() == [
        ("raised", "yellow", at(0.8 * limit)),
        ("escalated", "orange", at(limit)),
        ("escalated", "red", at(2 * limit)),
    ]
    assert d.wake == T0 + 30 * 1440 * MIN  # no deadline left: only the maximum age will close it


def test_a_tick_says_whether_it_changed_the_state():
    # The shell writes the state only when a tick changed it (or said something).
    d = Driver()
    d.event("ticket.created", 0, area_type="urban", **TICKET)
    quiet = d.engine.on_tick(d.state, T0 + 10 * MIN)  # before the first deadline (36 min)
    assert quiet.unchanged and quiet.warnings == [] and quiet.wake_at == just_after(T0 + 0.8 * 45 * MIN)
    due = d.engine.on_tick(d.state, T0 + 40 * MIN)
    assert not due.unchanged and [w["transition"] for w in due.warnings] == ["raised"]
    again = d.engine.on_tick(due.state, T0 + 41 * MIN)  # raised already, orange at 45 min
    assert again.unchanged


def test_arrival_resolves_the_warning_with_value_and_duration():
    d = Driver()
    d.event("ticket.created", 0, area_type="urban", **TICKET)
    d.tick(40)
    d.event("ticket.dispatched", 41, ticket_id="T1", crew_id="C9")
    d.event("ticket.arrived", 50, ticket_id="T1")
    assert d.timeline() == [("raised", "yellow", at(36)), ("escalated", "orange", at(45)), ("resolved", "orange", at(50))]
    resolved = d.out[-1]
    assert resolved["status"] == "resolved" and resolved["resolved_at"] == at(50)
    assert resolved["metric"]["value"] == 50 and resolved["duration_seconds"] == 14 * MIN
    assert resolved["scope"] == {"ticket_id": "T1", "district_id": "D1", "crew_id": "C9"}
    assert "previous_severity" not in resolved
    assert len({w["fingerprint"] for w in d.out}) == 1
    assert d.out[0]["fingerprint"] == fingerprint("repair.arrival_overdue", {"ticket_id": "T1"})
    assert len({w["warning_id"] for w in d.out}) == 3


def test_escalation_carries_previous_severity():
    d = Driver()
    d.event("ticket.created", 0, area_type="urban", **TICKET)
    d.tick(46)
    assert d.out[1]["transition"] == "escalated" and d.out[1]["previous_severity"] == "yellow"
    assert "previous_severity" not in d.out[0]


def test_urgent_ticket_goes_red_at_the_limit():
    d = Driver()
    d.event("ticket.created", 0, area_type="urban", **{**TICKET, "priority": "urgent"})
    d.tick(45.5)  # past the limit: at 45 min exactly the crew is still in time
    assert d.timeline() == [("raised", "yellow", at(36)), ("escalated", "red", at(45))]


def test_a_crew_arriving_exactly_at_the_limit_is_in_time_and_no_warning_is_published():
    # a tick at the very limit, then the arrival stamped at it: no zero-length warning
    d = Driver()
    d.event("ticket.created", 0, area_type="urban", **TICKET)
    d.tick(36)
    d.event("ticket.arrived", 36, ticket_id="T1")
    assert d.timeline() == []
    d = Driver()
    d.event("ticket.created", 0, area_type="urban", **TICKET)
    d.event("ticket.arrived", 45, ticket_id="T1")  # on the orange limit: late for yellow only
    assert d.timeline() == [("raised", "yellow", at(36)), ("resolved", "yellow", at(45))]


def test_arrival_before_any_tick_still_reports_the_lateness():
    """Events can overtake ticks; the entity's own events replay the crossings."""
    d = Driver()
    d.event("ticket.created", 0, area_type="urban", **TICKET)
    d.event("ticket.arrived", 50, ticket_id="T1")
    assert d.timeline() == [("raised", "yellow", at(36)), ("escalated", "orange", at(45)), ("resolved", "orange", at(50))]


def test_arrival_in_time_gives_no_warning_and_out_of_order_events_agree():
    d = Driver()
    d.event("ticket.arrived", 30, ticket_id="T1")
    d.event("ticket.created", 0, area_type="urban", **TICKET)
    d.tick(500)
    assert d.out == []


def test_redelivered_events_change_nothing():
    d = Driver()
    d.event("ticket.created", 0, area_type="urban", **TICKET)
    d.tick(40)
    created_again, ts = {"type": "ticket.created", "event_id": "e-resent", "ticket_id": "T1", "area_type": "urban",
                         "district_id": "D1"}, T0
    assert not d.engine.on_event("ticket:T1", d.state, created_again, ts, 0).duplicate
    assert d.engine.on_event("ticket:T1", d.state, created_again, ts, 0).duplicate
    d.event("ticket.created", 0, area_type="urban", **TICKET)
    d.event("ticket.arrived", 50, ticket_id="T1")
    d.event("ticket.arrived", 50, ticket_id="T1")
    d.tick(60)
    assert [w["transition"] for w in d.out] == ["raised", "escalated", "resolved"]


def test_completion_without_arrival_counts_as_arrival():
    d = Driver()
    d.event("ticket.created", 0, area_type="urban", **TICKET)
    d.event("ticket.completed", 20, ticket_id="T1")
    d.tick(500)
    assert d.out == []


def test_finished_entity_is_kept_for_the_retention_then_deleted():
    d = Driver(Engine(rulebook(), retention_seconds=60 * MIN))
    d.event("ticket.created", 0, area_type="urban", **TICKET)
    d.event("ticket.arrived", 10, ticket_id="T1")
    assert d.wake == T0 + 70 * MIN
    d.tick(69)
    assert d.state is not None
    d.tick(70)
    assert d.state is None


def test_district_override_changes_the_limit_for_that_district_only():
    book = rulebook(**{"repair.arrival_overdue": {"districts": {"D1": {"params": {"limit_minutes": {"urban": 30}}}}}})
    d1, d2 = Driver(Engine(book)), Driver(Engine(book))
    d1.event("ticket.created", 0, area_type="urban", **TICKET)
    d2.event("ticket.created", 0, area_type="urban", **{**TICKET, "ticket_id": "T2", "district_id": "D2"})
    assert d1.wake == just_after(T0 + 24 * MIN) and d2.wake == just_after(T0 + 36 * MIN)


def test_disabled_rule_is_silent():
    d = Driver(Engine(rulebook(**{"repair.arrival_overdue": {"enabled": False}})))
    d.event("ticket.created", 0, area_type="urban", **TICKET)
    d.tick(500)
    assert d.out == []


OUTAGE = dict(outage_id="O1", district_id="D1", feeder_id="F1", area_type="urban", customers_affected=120)


def test_notice_late_escalates_then_resolves_on_the_notice():
    d = Driver()
    d.event("outage.started", 0, kind="unplanned", **OUTAGE)
    d.tick(20)
    d.event("outage.notice_published", 22, outage_id="O1", channel="sms")
    assert d.timeline() == [("raised", "yellow", at(10)), ("escalated", "orange", at(15)), ("resolved", "orange", at(22))]
    assert d.out[0]["scope"] == {"outage_id": "O1", "district_id": "D1", "feeder_id": "F1"}
    assert d.out[-1]["metric"] == {"name": "minutes_without_notice", "value": 22, "threshold": 15, "unit": "min"}


def test_notice_late_red_at_30_minutes():
    d = Driver()
    d.event("outage.started", 0, kind="unplanned", **OUTAGE)
    d.tick(31)
    assert d.timeline()[-1] == ("escalated", "red", at(30))


def test_planned_outages_are_not_notice_late():
    d = Driver()
    d.event("outage.started", 0, kind="planned", **OUTAGE)
    d.tick(120)
    assert d.out == []


def test_notice_published_before_the_start_event_arrives():
    d = Driver()
    d.event("outage.notice_published", 5, outage_id="O1", channel="app")
    d.event("outage.started", 0, kind="unplanned", **OUTAGE)
    d.tick(120)
    assert d.out == []


def test_outage_restored_without_notice_resolves_and_says_so():
    d = Driver()
    d.event("outage.started", 0, kind="unplanned", **OUTAGE)
    d.tick(12)
    d.event("outage.restored", 40, outage_id="O1")
    assert d.timeline() == [("raised", "yellow", at(10)), ("escalated", "orange", at(15)), ("escalated", "red", at(30)), ("resolved", "red", at(40))]
    assert "no notice" in d.out[-1]["summary"]


def test_bad_rule_configuration_names_file_rule_and_field():
    data = yaml.safe_load(RULES_FILE.read_text())
    data["rules"]["repair.arrival_overdue"]["params"]["limit_minutes"]["rural"] = -5
    with pytest.raises(ConfigError, match=r"rules.yaml: rules.repair.arrival_overdue.params.*rural"):
        RuleBook.from_mapping(data, str(RULES_FILE))
    data = yaml.safe_load(RULES_FILE.read_text())
    data["rules"]["outage.notice_late"]["params"]["minutes"] = {"purple": 3}
    with pytest.raises(ConfigError, match=r"rules.outage.notice_late.params.*purple"):
        RuleBook.from_mapping(data, "x.yaml")
    data = yaml.safe_load(RULES_FILE.read_text())
    data["rules"]["no.such_rule"] = {"response_plan": "x"}
    with pytest.raises(ConfigError, match=r"x.yaml: rules.no.such_rule: unknown rule id"):
        RuleBook.from_mapping(data, "x.yaml")
    data = yaml.safe_load(RULES_FILE.read_text())
    data["rules"]["outage.notice_late"]["enabeld"] = False
    with pytest.raises(ConfigError, match=r"x.yaml: rules.outage.notice_late.enabeld"):
        RuleBook.from_mapping(data, "x.yaml")


def test_a_subject_remembers_its_last_256_event_ids_and_no_more():
    d = Driver(Engine(rulebook(), dated_ids=0))  # the memory of arrivals alone (the dated one: test_state_bounds)
    d.event("ticket.created", 0, area_type="urban", **TICKET)
    ids = [f"n{i}" for i in range(300)]
    for i in ids:
        d.engine.on_event("ticket:T1", d.state, {"type": "ticket.dispatched", "event_id": i, "ticket_id": "T1"}, T0, 0)

    def again(i):
        return d.engine.on_event("ticket:T1", d.state, {"type": "ticket.dispatched", "event_id": i, "ticket_id": "T1"},
                                 T0, 0).duplicate
    assert all(again(i) for i in ids[-256:])
    assert not again(ids[0])  # forgotten: the 257th id back (now remembered again, as the newest)


def test_a_digest_straddling_two_remembered_ones_is_not_taken_for_one():
    from service.core.engine import remembers

    assert remembers("AAAAAAAABBBBBBBB", "BBBBBBBB")
    assert not remembers("AAAAAAAABBBBBBBB", "AAAABBBB")  # found at 4: across the boundary
    assert remembers("AAAABBBBAAAABBBB", "AAAABBBB")  # found at 0 (and 8)
    assert remembers("CCCCAAAABBBBCCCCAAAABBBB", "AAAABBBB")  # found at 4 first, then at 16


def test_a_state_that_remembers_ids_as_a_list_still_drops_them():
    from service.core.engine import id_digest

    d = Driver()
    d.event("ticket.created", 0, area_type="urban", **TICKET)
    d.state["recent"] = [id_digest("old-1"), "a-full-event-id-of-an-older-version", id_digest("old-2")]
    del d.state["v"]  # as versions before the digests wrote it
    old = {"type": "ticket.dispatched", "event_id": "old-2", "ticket_id": "T1"}
    assert d.engine.on_event("ticket:T1", d.state, old, T0, 0).duplicate
    r = d.engine.on_event("ticket:T1", d.state, {**old, "event_id": "new"}, T0, 0)
    assert not r.duplicate and r.state["recent"] == id_digest("old-1") + id_digest("old-2") + id_digest("new")


def test_a_future_dated_event_in_wall_mode_fires_no_deadline_past_wall_time_plus_the_skew():
    """Wall clock at minute 10: a ticket created at 0, then a dispatch dated a day ahead (e.g. a
    producer with a wrong clock, or a record already in the work topic) must not take the
    ticket's deadlines there: nothing may change after wall time plus the allowed skew."""
    skew = 300.0
    engine = Engine(rulebook(), max_ahead_seconds=skew)
    wall = T0 + 10 * MIN
    created, ts = ev("ticket.created", 0, area_type="urban", **TICKET)
    r = engine.on_event("ticket:T1", None, created, ts, now=wall, wall=wall)
    dispatched, _ = ev("ticket.dispatched", 0, ticket_id="T1", crew_id="C1")
    r = engine.on_event("ticket:T1", r.state, dispatched, T0 + 24 * 60 * MIN, now=wall, wall=wall)
    assert all(to_epoch(w["changed_at"]) <= wall + skew for w in r.warnings), [w["changed_at"] for w in r.warnings]
    assert r.warnings == []  # the first deadline (45 min) is still ahead
    # without wall time (event-clock replays, the benchmark digest) the event's own time still counts
    r2 = Engine(rulebook(), max_ahead_seconds=skew).on_event(
        "ticket:T1", Engine(rulebook()).on_event("ticket:T1", None, created, ts, now=wall).state,
        {**dispatched, "event_id": "other"}, T0 + 24 * 60 * MIN, now=wall)
    assert {w["severity"] for w in r2.warnings} >= {"yellow"}


def test_a_ticket_open_longer_than_the_maximum_age_is_closed_its_warning_resolved_and_then_deleted():
    from datetime import UTC, datetime

    from schemas import RiskWarning

    d = Driver(Engine(rulebook(), retention_seconds=7 * 1440 * MIN, max_open_seconds=30 * 1440 * MIN))
    d.event("ticket.created", 0, area_type="urban", **TICKET)
    d.tick(3 * 45)
    assert d.out[-1]["severity"] == "red" and d.out[-1]["status"] == "firing"
    d.tick(30 * 1440 - 1)
    assert len(d.out) == 3  # not yet
    d.tick(30 * 1440 + 5)
    closed = d.out[-1]
    assert (closed["transition"], closed["resolved_reason"]) == ("resolved", "max_open_days")
    assert closed["resolved_at"] == at(30 * 1440)
    assert closed["summary"].startswith("[closed: open over 30 days")
    RiskWarning.model_validate({**closed, "emitted_at": datetime.now(UTC).isoformat()})  # the contract holds
    assert d.wake == T0 + 37 * 1440 * MIN  # kept a retention after it was closed, then deleted
    d.event("ticket.arrived", 30 * 1440 + 10, **TICKET)  # a late event finds it closed: no new clock
    assert len(d.out) == 4
    d.tick(37 * 1440 + 11)
    assert d.state is None


def test_an_outage_open_longer_than_the_maximum_age_is_closed():
    d = Driver(Engine(rulebook(), max_open_seconds=30 * 1440 * MIN))
    d.event("outage.started", 0, kind="unplanned", **OUTAGE)
    d.tick(60)
    assert d.out and d.out[-1]["status"] == "firing"
    d.tick(31 * 1440)
    assert d.out[-1]["resolved_reason"] == "max_open_days"


def test_context_is_first_wins_a_later_event_cannot_move_a_subject_to_another_district():
    from .world import World

    w = World()
    w.send("ticket.created", 0, event_id="t1", district_id="D1", area_type="urban", category="no_power",
           priority="normal", ticket_id="T9")
    w.send("ticket.created", 1, event_id="t1-forged", district_id="D2", area_type="remote", category="no_power",
           priority="normal", ticket_id="T9")
    assert w.states["ticket:T9"]["facts"]["district_id"] == "D1"
    assert w.states["ticket:T9"]["facts"]["area_type"] == "urban"
    w.send("complaint.received", 2, complaint_id="c1", district_id="D1", category="other", staff_id="S9")
    w.send("complaint.received", 3, complaint_id="c2", district_id="D2", category="other", staff_id="S9")
    assert w.states["staff:S9"]["facts"]["district_id"] == "D1"
