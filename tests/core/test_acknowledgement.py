"""Unacknowledged warnings escalate one severity per escalation time; an acknowledgement stops that."""

from tests.core.world import World, at, rulebook

TICKET = dict(ticket_id="T1", district_id="D1", area_type="rural", category="no_power", priority="normal")


def world(escalate_after=10):
    return World(rulebook(only=["repair.arrival_overdue"],
                          **{"repair.arrival_overdue": {"escalate_after_minutes": escalate_after}}))


def test_unacknowledged_warning_escalates_one_severity_per_escalation_time():
    w = world()
    w.send("ticket.created", 0, **TICKET)  # rural: yellow at 72 min, orange at 90, red at 180
    w.run(95, every=1)
    # orange at 82 by the acknowledgement clock; at 90 the rule's own orange, one level up, is red
    assert w.timeline() == [("raised", "yellow", at(72)), ("escalated", "orange", at(82)),
                            ("escalated", "red", at(90))]
    assert w.warnings[1]["escalation_reason"] == "unacknowledged"
    assert w.warnings[1]["summary"].startswith("[not acknowledged]")
    assert "escalation_reason" not in w.warnings[0]
    w.run(300, every=5)
    assert len(w.warnings) == 3  # red is the top: nothing more, and the rule's own orange does not lower it
    w.send("ticket.arrived", 300, ticket_id="T1")
    assert w.timeline()[-1] == ("resolved", "red", at(300))


def test_acknowledged_warning_does_not_escalate_and_carries_the_acknowledgement():
    w = world()
    w.send("ticket.created", 0, **TICKET)
    w.run(75, every=1)
    w.ack("ticket:T1", "repair.arrival_overdue", 76, by="officer-7")
    w.run(100, every=1)
    assert w.timeline() == [("raised", "yellow", at(72)), ("escalated", "orange", at(90))]  # the rule's own
    assert w.warnings[-1]["acknowledged"] is True and "escalation_reason" not in w.warnings[-1]
    ws = w.states["ticket:T1"]["warnings"]["repair.arrival_overdue"]
    assert (ws["acked_by"], ws["acked_at"] is not None) == ("officer-7", True)


def test_ack_of_a_warning_not_firing_changes_nothing():
    w = world()
    w.send("ticket.created", 0, **TICKET)
    r = w.engine.on_ack(w.states["ticket:T1"], "repair.arrival_overdue", "x", 0, 0)
    assert r.duplicate


def test_escalation_is_off_unless_configured():
    w = World(rulebook(only=["repair.arrival_overdue"]))
    w.send("ticket.created", 0, **TICKET)
    w.run(170, every=1)
    assert w.timeline() == [("raised", "yellow", at(72)), ("escalated", "orange", at(90))]
