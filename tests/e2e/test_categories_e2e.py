"""One rule of each risk category, raised and resolved through the real broker
and worker (event-time replay of a small backlog)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from service.core.timefmt import to_epoch

from .harness import Deployment
from .test_replay import EVENT_CLOCK, timeline

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

T0 = datetime(2026, 10, 1, tzinfo=UTC).timestamp()  # the whole stream in the past: no event may be dated ahead of wall time
H, D = 3600.0, 86400.0


def iso(ts):
    return datetime.fromtimestamp(ts, UTC).isoformat()


def events():
    n = iter(range(1, 10_000))

    def ev(topic, key, type_, ts, **fields):
        return topic, key, {"event_id": f"c{next(n)}", "type": type_, "occurred_at": iso(ts), **fields}

    out = [
        # coordination: an unplanned outage noticed after 20 minutes
        ev("outage_events", "O1", "outage.started", T0, outage_id="O1", kind="unplanned", district_id="north",
           feeder_id="F1", area_type="urban", customers_affected=50),
        ev("outage_events", "O1", "outage.notice_published", T0 + 20 * 60, outage_id="O1", channel="sms"),
        ev("outage_events", "O1", "outage.restored", T0 + H, outage_id="O1"),
        # follow_up: a completed repair followed up only after 30 h
        ev("repair_tickets", "T1", "ticket.created", T0, ticket_id="T1", district_id="north", area_type="urban",
           category="no_power", priority="normal"),
        ev("repair_tickets", "T1", "ticket.arrived", T0 + 20 * 60, ticket_id="T1"),
        ev("repair_tickets", "T1", "ticket.completed", T0 + H, ticket_id="T1"),
        ev("repair_tickets", "T1", "ticket.followed_up", T0 + 31 * H, ticket_id="T1", satisfied=True),
        # fee_recovery: a bankrupt customer with large arrears, paid off two days later
        ev("billing_events", "A1", "bill.issued", T0, account_id="A1", bill_id="B1", district_id="east",
           customer_class="industrial", amount="200000.00", due_date="2026-10-20", period="2026-09"),
        ev("billing_events", "A1", "account.risk_flagged", T0 + H, account_id="A1", flag="bankruptcy"),
        ev("billing_events", "A1", "payment.received", T0 + 2 * D, account_id="A1", bill_id="B1", amount="200000.00"),
    ]
    # staff_conduct: three complaints naming the same staff member
    out += [ev("service_events", "north", "complaint.received", T0 + (i + 1) * H, complaint_id=f"K{i}",
               district_id="north", category="service_attitude", staff_id="S1") for i in range(3)]
    # staff_skill: five billing-error complaints in a week
    out += [ev("service_events", "east", "complaint.received", T0 + (i + 1) * H, complaint_id=f"B{i}",
               district_id="east", category="billing_error") for i in range(5)]
    # equipment: two tamper-like alarm kinds on one account
    out += [ev("service_events", "hills", "meter.alarm", T0 + H, meter_id="M1", district_id="hills",
               alarm="tamper", account_id="A2"),
            ev("service_events", "hills", "meter.alarm", T0 + 2 * H, meter_id="M1", district_id="hills",
               alarm="reverse_energy", account_id="A2")]
    # event time moves on 40 days, so every window above closes
    out.append(ev("service_events", "far", "survey.completed", T0 + 40 * D, survey_id="S-end",
                  district_id="far", score=5))
    return out


RULE_OF_CATEGORY = {
    "coordination": "outage.notice_late",
    "follow_up": "followup.missing",
    "fee_recovery": "billing.flagged_arrears",
    "staff_conduct": "complaints.staff_repeat",
    "staff_skill": "complaints.billing_errors",
    "equipment": "meter.tamper_suspected",
}


def test_one_rule_of_each_category_raises_and_resolves(kafka_bootstrap, tmp_path):
    d = Deployment(kafka_bootstrap, tmp_path, EVENT_CLOCK)
    try:
        stream = events()
        for topic, key, value in stream:
            d.producer.send(d.topics[topic], key=key.encode(), value=json.dumps(value).encode())
        d.producer.flush()
        d.start_worker()
        d.wait_ready()
        got = timeline(d, settle=8, until=max(to_epoch(value["occurred_at"]) for _, _, value in stream))
    finally:
        d.close()
    by_rule = {}
    for _, _, rule_id, transition, severity, *_ in got:
        by_rule.setdefault(rule_id, []).append(transition)
    for category, rule_id in RULE_OF_CATEGORY.items():
        transitions = by_rule.get(rule_id, [])
        assert transitions and transitions[0] == "raised" and transitions[-1] == "resolved", (category, rule_id, by_rule)
