"""The contract's input events: what parses, what is refused and with which reason."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas import (
    EVENT_TYPES,
    REASONS,
    SEVERITY_ORDER,
    TOPIC_EVENT_TYPES,
    BadEvent,
    DeadLetter,
    Notification,
    RiskWarning,
    Scope,
    WarningAck,
    entity_key,
    parse_event,
    severity_rank,
)

T = "2026-11-27T08:15:00+08:00"


def base(type_: str, **fields) -> dict:
    return {"event_id": f"e-{type_}", "type": type_, "occurred_at": T, **fields}


EXAMPLES = {
    "outage.scheduled": base("outage.scheduled", outage_id="O1", kind="planned", district_id="north",
                             feeder_id="F-3", area_type="rural", customers_affected=120,
                             scheduled_start="2026-12-05T09:00:00+08:00", scheduled_end="2026-12-05T17:00:00+08:00"),
    "outage.started": base("outage.started", outage_id="O2", kind="unplanned", district_id="north", feeder_id="F-9",
                           area_type="urban", customers_affected=0, cause="cable fault"),
    "outage.notice_published": base("outage.notice_published", outage_id="O2", channel="notice_board",
                                    customers_notified=400),
    "outage.restored": base("outage.restored", outage_id="O2", customers_restored=400),
    "outage.cancelled": base("outage.cancelled", outage_id="O1"),
    "ticket.created": base("ticket.created", ticket_id="T1", district_id="north", area_type="remote",
                           category="safety_hazard", priority="urgent", channel="app", outage_id="O2",
                           customer_id="C-77"),
    "ticket.dispatched": base("ticket.dispatched", ticket_id="T1", crew_id="crew-4"),
    "ticket.arrived": base("ticket.arrived", ticket_id="T1"),
    "ticket.completed": base("ticket.completed", ticket_id="T1", resolution="fuse replaced"),
    "ticket.followed_up": base("ticket.followed_up", ticket_id="T1", satisfied=False, score=2),
    "ticket.reopened": base("ticket.reopened", ticket_id="T1", reason="power lost again"),
    "bill.issued": base("bill.issued", account_id="A-1", bill_id="B-1", district_id="north",
                        customer_class="industrial", amount="1234.50", due_date="2026-12-15", period="2026-11"),
    "payment.received": base("payment.received", account_id="A-1", bill_id="B-1", amount="100", currency="USD"),
    "account.risk_flagged": base("account.risk_flagged", account_id="A-1", flag="liquidation", note="court order"),
    "complaint.received": base("complaint.received", complaint_id="K1", district_id="north",
                               category="service_attitude", staff_id="S-9", ticket_id="T1"),
    "survey.completed": base("survey.completed", survey_id="V1", district_id="north", score=5),
    "meter.alarm": base("meter.alarm", meter_id="M1", district_id="north", alarm="reverse_energy",
                        account_id="A-1"),
}

ENTITY = {"outage": "outage_id", "ticket": "ticket_id", "bill": "account_id", "payment": "account_id",
          "account": "account_id", "complaint": "district_id", "survey": "district_id", "meter": "district_id"}


def raw(event: dict) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


def reason_of(data: bytes) -> BadEvent:
    with pytest.raises(BadEvent) as caught:
        parse_event(data)
    return caught.value


# --- valid events -------------------------------------------------------------


def test_every_contract_type_has_an_example():
    assert set(EXAMPLES) == set(EVENT_TYPES)
    assert len(EVENT_TYPES) == 17


@pytest.mark.parametrize("type_", sorted(EXAMPLES))
def test_each_event_type_parses_into_its_model(type_):
    event = parse_event(raw(EXAMPLES[type_]))
    assert type(event) is EVENT_TYPES[type_]
    assert event.type == type_ and event.event_id == f"e-{type_}"
    assert entity_key(event) == EXAMPLES[type_][ENTITY[type_.split(".")[0]]]
    # what the service forwards parses again to the same model
    assert parse_event(event.model_dump_json().encode()) == event


def test_topics_carry_each_type_exactly_once_under_the_contract_names():
    assert sorted(TOPIC_EVENT_TYPES) == ["billing-events", "outage-events", "repair-tickets", "service-events"]
    listed = [t for types in TOPIC_EVENT_TYPES.values() for t in types]
    assert sorted(listed) == sorted(EVENT_TYPES)
    assert TOPIC_EVENT_TYPES["billing-events"] == ("bill.issued", "payment.received", "account.risk_flagged")


def test_occurred_at_is_normalised_to_utc():
    event = parse_event(raw(EXAMPLES["ticket.arrived"]))
    assert event.occurred_at == datetime(2026, 11, 27, 0, 15, tzinfo=UTC)
    assert event.occurred_at.utcoffset().total_seconds() == 0
    assert event.model_dump(mode="json")["occurred_at"] == "2026-11-27T00:15:00Z"


def test_unknown_extra_fields_are_ignored():
    event = parse_event(raw({**EXAMPLES["ticket.created"], "weather": {"wind": 30}, "priority_v2": "p1"}))
    assert event.priority == "urgent"
    assert "weather" not in event.model_dump() and "priority_v2" not in event.model_dump()


def test_defaults_and_money_keep_their_exact_decimal():
    bill = parse_event(raw(EXAMPLES["bill.issued"]))
    assert bill.amount == Decimal("1234.50") and str(bill.amount) == "1234.50"
    assert bill.currency == "CNY" and bill.schema_version == 1 and bill.source is None
    assert bill.model_dump(mode="json")["amount"] == "1234.50"
    assert parse_event(raw(EXAMPLES["payment.received"])).currency == "USD"


def test_optional_fields_may_be_null_or_absent():
    bare = {k: v for k, v in EXAMPLES["ticket.created"].items() if k not in ("channel", "outage_id", "customer_id")}
    assert parse_event(raw(bare)).channel is None
    assert parse_event(raw({**bare, "channel": None, "source": "oms"})).source == "oms"


def test_events_are_frozen():
    event = parse_event(raw(EXAMPLES["ticket.dispatched"]))
    with pytest.raises(ValidationError):
        event.crew_id = "other"


def test_severity_order_is_blue_lowest():
    assert SEVERITY_ORDER == ("blue", "yellow", "orange", "red")
    assert [severity_rank(s) for s in SEVERITY_ORDER] == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        severity_rank("purple")


# --- bad events ---------------------------------------------------------------


def with_(type_: str, **changes) -> bytes:
    return raw({**EXAMPLES[type_], **changes})


def without(type_: str, field: str) -> bytes:
    return raw({k: v for k, v in EXAMPLES[type_].items() if k != field})


BAD = [
    ("not json", b"{this is not json", "not_json", "not_json: "),
    ("empty", b"", "not_json", "not_json: "),
    ("invalid utf-8", b'{"event_id": "\xff\xfe"}', "not_utf8", "not_utf8: invalid UTF-8 at byte 14"),
    ("array", b"[1, 2, 3]", "not_object", "not_object: the message is an array"),
    ("string", b'"ticket.created"', "not_object", "not_object: the message is a string"),
    ("unknown type", with_("ticket.created", type="ticket.teleported"), "unknown_type", "'ticket.teleported'"),
    ("missing type", without("ticket.created", "type"), "missing_field", "missing_field: type"),
    ("type not a string", with_("ticket.created", type=7), "wrong_type", "wrong_type: type"),
    ("missing field", without("ticket.created", "district_id"), "missing_field",
     "missing_field: ticket.created.district_id"),
    ("missing event_id", without("ticket.arrived", "event_id"), "missing_field",
     "missing_field: ticket.arrived.event_id"),
    ("wrong type", with_("ticket.dispatched", crew_id=42), "wrong_type", "ticket.dispatched.crew_id"),
    ("count as string", with_("outage.started", customers_affected="12"), "wrong_type",
     "outage.started.customers_affected"),
    ("count as float", with_("outage.started", customers_affected=12.0), "wrong_type",
     "outage.started.customers_affected"),
    ("bool as string", with_("ticket.followed_up", satisfied="yes"), "wrong_type", "ticket.followed_up.satisfied"),
    ("float money", with_("bill.issued", amount=1234.5), "wrong_type",
     "wrong_type: bill.issued.amount: must be a decimal string"),
    ("3-decimal money", with_("payment.received", amount="10.005"), "invalid_value", "payment.received.amount"),
    ("negative money", with_("payment.received", amount="-5.00"), "out_of_range", "payment.received.amount"),
    ("exponent money", with_("payment.received", amount="1e3"), "invalid_value", "payment.received.amount"),
    ("negative customers", with_("outage.started", customers_affected=-1), "out_of_range",
     "outage.started.customers_affected"),
    ("score 6", with_("survey.completed", score=6), "out_of_range", "survey.completed.score"),
    ("score 0 on follow-up", with_("ticket.followed_up", score=0), "out_of_range", "ticket.followed_up.score"),
    ("naive timestamp", with_("ticket.arrived", occurred_at="2026-11-27T08:15:00"), "invalid_value",
     "ticket.arrived.occurred_at: timestamp has no UTC offset"),
    ("unix timestamp", with_("ticket.arrived", occurred_at=1764202500), "wrong_type", "ticket.arrived.occurred_at"),
    ("date as timestamp", with_("ticket.arrived", occurred_at="2026-11-27"), "invalid_value",
     "ticket.arrived.occurred_at"),
    ("year 3000", with_("ticket.arrived", occurred_at="3000-01-01T00:00:00Z"), "out_of_range",
     "ticket.arrived.occurred_at"),
    ("year 1989", with_("bill.issued", due_date="1989-12-31"), "out_of_range", "bill.issued.due_date"),
    ("bad period", with_("bill.issued", period="2026-13"), "invalid_value", "bill.issued.period"),
    ("id of 65 chars", with_("ticket.arrived", ticket_id="T" * 65), "out_of_range", "ticket.arrived.ticket_id"),
    ("empty id", with_("ticket.arrived", ticket_id=""), "out_of_range", "ticket.arrived.ticket_id"),
    ("event_id of 129 chars", with_("ticket.arrived", event_id="e" * 129), "out_of_range",
     "ticket.arrived.event_id"),
    ("bad enum", with_("ticket.created", area_type="suburban"), "invalid_value", "ticket.created.area_type"),
    ("id with spaces", with_("ticket.arrived", ticket_id="T1 CALL 555-0100 NOW"), "bad_id",
     "ticket.arrived.ticket_id"),
    ("id with a newline", with_("complaint.received", staff_id="S1\nINFO forged"), "bad_id",
     "complaint.received.staff_id"),
    ("id with a bidi override", with_("outage.started", feeder_id="F\u202e1"), "bad_id", "outage.started.feeder_id"),
    ("id with NUL", with_("bill.issued", district_id="north\u0000"), "bad_id", "bill.issued.district_id"),
    ("id with a slash", with_("meter.alarm", meter_id="M/1"), "bad_id", "meter.alarm.meter_id"),
    ("non-ASCII id", with_("survey.completed", district_id="n\u043erth"), "bad_id", "survey.completed.district_id"),
    ("id starting with a dash", with_("ticket.created", ticket_id="-T1"), "bad_id", "ticket.created.ticket_id"),
    ("event_id with a space", with_("ticket.arrived", event_id="e 1"), "bad_id", "ticket.arrived.event_id"),
    ("event_id with a tab", with_("ticket.arrived", event_id="e\t1"), "bad_id", "ticket.arrived.event_id"),
    ("source with CR", with_("ticket.arrived", source="oms\r"), "bad_id", "ticket.arrived.source"),
    ("bad currency", with_("payment.received", currency="yuan"), "invalid_value", "payment.received.currency"),
    ("end before start", with_("outage.scheduled", scheduled_end="2026-12-05T08:00:00+08:00"), "out_of_range",
     "scheduled_end is before scheduled_start"),
    ("schema_version 0", with_("ticket.arrived", schema_version=0), "out_of_range", "schema_version"),
    ("huge integer", b'{"type": "outage.restored", "customers_restored": 1' + b"0" * 5000 + b"}", "not_json",
     "number out of range"),
]


@pytest.mark.parametrize(("data", "reason", "detail_part"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_each_bad_input_class_gets_its_reason(data, reason, detail_part):
    bad = reason_of(data)
    assert bad.reason == reason, bad.detail
    assert bad.reason in REASONS
    assert detail_part in bad.detail
    assert bad.detail.startswith(reason + ":")
    assert "\n" not in bad.detail and len(bad.detail) <= 500


def test_several_problems_name_the_most_basic_reason_first():
    event = {k: v for k, v in EXAMPLES["ticket.created"].items() if k != "district_id"}
    data = raw({**event, "area_type": "suburban", "occurred_at": "2026-11-27"})
    bad = reason_of(data)
    assert bad.reason == "missing_field"
    assert bad.detail.startswith("missing_field: ticket.created.district_id; invalid_value: ")
    assert "ticket.created.area_type" in bad.detail


def test_many_problems_are_summarised_not_listed():
    data = raw({"event_id": "", "type": "outage.scheduled", "occurred_at": "x", "kind": 1, "district_id": 2})
    bad = reason_of(data)
    assert "more)" in bad.detail and len(bad.detail) <= 500


def test_a_huge_string_is_refused_without_echoing_it():
    huge = "X" * 10_000_000
    bad = reason_of(with_("ticket.dispatched", crew_id=huge))
    assert bad.reason == "out_of_range"
    assert len(bad.detail) <= 500 and "X" * 101 not in bad.detail
    bad = reason_of(with_("ticket.dispatched", type=huge))
    assert bad.reason == "unknown_type" and "X" * 101 not in bad.detail


def test_a_huge_extra_field_is_ignored_like_any_extra_field():
    event = parse_event(with_("ticket.dispatched", attachment="Y" * 10_000_000))
    assert event.crew_id == "crew-4"


@pytest.mark.parametrize("data", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"event_id": "e", "type": "ticket.arrived", "ticket_id": "T", "x": ' + b"{\"a\":" * 100_000 + b"1" + b"}" * 100_000 + b"}",
    b"[" * 100_000,
], ids=["deep array", "deep object in a field", "unclosed"])
def test_deep_nesting_is_a_bad_event_not_a_recursion_error(data):
    bad = reason_of(data)
    assert bad.reason == "not_json" and "recursion limit" in bad.detail


def test_text_and_buffer_arguments_are_read_like_bytes():
    assert parse_event(raw(EXAMPLES["ticket.arrived"]).decode()).ticket_id == "T1"
    assert parse_event(memoryview(raw(EXAMPLES["ticket.arrived"]))).ticket_id == "T1"
    assert reason_of('{"event_id": "\ud800"}').reason == "not_utf8"  # lone surrogate in a str


def test_a_naive_timestamp_inside_a_schedule_is_refused():
    bad = reason_of(with_("outage.scheduled", scheduled_start="2026-12-05 09:00:00"))
    assert bad.reason == "invalid_value" and "outage.scheduled.scheduled_start" in bad.detail


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_a_model_or_a_bad_event(data):
    try:
        event = parse_event(data)
    except BadEvent as bad:
        assert bad.reason in REASONS and len(bad.detail) <= 500
    else:
        assert event.type in EVENT_TYPES


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


def mutated(type_: str, data) -> dict:
    """The example of `type_` with up to three fields dropped or given an arbitrary JSON value."""
    event = dict(EXAMPLES[type_])
    for field in data.draw(st.lists(st.sampled_from(sorted(event)), max_size=3, unique=True)):
        if data.draw(st.booleans()):
            del event[field]
        else:
            event[field] = data.draw(JSON_VALUES)
    return event


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(EXAMPLES)), st.data())
def test_mutated_events_give_a_model_or_a_bad_event(type_, data):
    """Near-valid events reach the field validators, where the subtle failures are."""
    event = mutated(type_, data)
    try:
        parsed = parse_event(json.dumps(event).encode())
    except BadEvent as bad:
        assert bad.reason in REASONS and len(bad.detail) <= 500
    else:
        assert parsed.type in EVENT_TYPES


# --- the messages the service writes ------------------------------------------

WARNING = {
    "warning_id": "3f2a-2", "fingerprint": "3f2a", "rule_id": "repair.arrival_overdue",
    "risk_category": "coordination", "status": "firing", "transition": "escalated",
    "severity": "orange", "previous_severity": "yellow",
    "scope": {"ticket_id": "T1", "district_id": "north"},
    "metric": {"name": "arrival_minutes", "value": 46.0, "threshold": 45, "unit": "min"},
    "first_fired_at": "2026-11-27T08:36:00Z", "changed_at": "2026-11-27T08:45:00.000Z",
    "emitted_at": "2026-11-27T08:45:01.120Z",
    "summary": "Crew for ticket T1 (north) is 46 min late.", "summary_zh": "工单T1（north）抢修人员超时46分钟未到达。",
    "response_plan": "Call the crew leader.", "evidence": ["e1", "e2"],
    "suppressed": False, "acknowledged": False,
}


def test_a_warning_as_the_engine_renders_it_validates_and_scope_drops_absent_keys():
    warning = RiskWarning.model_validate(WARNING)
    assert warning.changed_at == datetime(2026, 11, 27, 8, 45, tzinfo=UTC)
    dumped = warning.model_dump(mode="json")
    assert dumped["scope"] == {"ticket_id": "T1", "district_id": "north"}
    assert Scope(outage_id="O1").model_dump() == {"outage_id": "O1"}


@pytest.mark.parametrize("change", [
    {"evidence": [f"e{i}" for i in range(21)]},
    {"status": "resolved"},  # transition says escalated
    {"previous_severity": "red"},  # escalated from red to orange
    {"summary": "two\nlines"},
    {"severity": "purple"},
    {"changed_at": "2026-11-27T08:45:00"},
    {"metric": {"name": "m", "value": float("inf"), "threshold": 1, "unit": "min"}},
])
def test_inconsistent_warnings_are_refused(change):
    with pytest.raises(ValidationError):
        RiskWarning.model_validate({**WARNING, **change})


NOTIFICATION = {
    "notification_id": "n1", "warning_id": "3f2a-2", "fingerprint": "3f2a", "recipient_group": "north-duty",
    "rule_id": "repair.arrival_overdue", "severity": "orange", "status": "firing", "transition": "escalated",
    "text_zh": "工单T1抢修人员超时46分钟未到达，请立即处理。", "text_en": "Ticket T1: crew 46 min late (north). Call crew leader.",
    "created_at": "2026-11-27T08:45:02Z",
}


@pytest.mark.parametrize(("field", "value", "ok"), [
    ("text_en", "Crew late @ T1: £0 cost, ÄÖÜ ok_", True),
    ("text_en", "Price 5€", False),  # extension table
    ("text_en", "Use [brackets]", False),
    ("text_en", "中文", False),
    ("text_en", "x" * 161, False),
    ("text_zh", "告" * 70, True),
    ("text_zh", "告" * 71, False),
    ("text_zh", "告" * 69 + "😀", False),  # 71 UTF-16 code units
])
def test_notification_texts_fit_an_sms(field, value, ok):
    data = {**NOTIFICATION, field: value}
    if ok:
        assert getattr(Notification.model_validate(data), field) == value
    else:
        with pytest.raises(ValidationError):
            Notification.model_validate(data)


def test_warning_ack_parses_and_bounds_the_note():
    ack = {"ack_id": "a1", "fingerprint": "3f2a", "acknowledged_by": "duty-7",
           "acknowledged_at": "2026-11-27T16:50:00+08:00", "note": "crew called"}
    assert WarningAck.model_validate_json(json.dumps(ack)).acknowledged_at.hour == 8
    with pytest.raises(ValidationError):
        WarningAck.model_validate({**ack, "note": "n" * 501})
    with pytest.raises(ValidationError):
        WarningAck.model_validate({**ack, "acknowledged_by": "d" * 65})


def test_dead_letter_keeps_the_original_bytes():
    value = b'{"event_id": "\xff"}'
    letter = DeadLetter.from_message(
        reason="not_utf8", detail="not_utf8: invalid UTF-8 at byte 14", topic="repair-tickets", partition=3,
        offset=42, key=b"T1", value=value, received_at=datetime(2026, 11, 27, tzinfo=UTC), service="risk-warnings",
    )
    again = DeadLetter.model_validate_json(letter.model_dump_json())
    assert base64.b64decode(again.value_base64) == value and again.value_text is None
    assert base64.b64decode(again.key) == b"T1"
    long_text = DeadLetter.from_message(
        reason="not_json", detail="d" * 900, topic="t", partition=0, offset=0, key=None, value=b"x" * 5000,
        received_at=datetime(2026, 11, 27, tzinfo=UTC), service="s",
    )
    assert long_text.key is None and len(long_text.value_text) == 2000 and len(long_text.detail) == 500
    with pytest.raises(ValidationError):
        DeadLetter.model_validate({**letter.model_dump(mode="json"), "value_base64": "not base64!"})


@pytest.mark.parametrize("value", ["T1", "bch-t-2485276-r3", "US-TX", "hope-kent:west-of-old-yale-rd",
                                   "district.north_2", "0", "a" * 64])
def test_ids_of_the_safe_set_are_accepted(value):
    event = parse_event(with_("complaint.received", district_id=value, staff_id=value, ticket_id=value))
    assert event.district_id == event.staff_id == event.ticket_id == value


def test_event_ids_and_sources_may_use_any_printable_ascii():
    event = parse_event(with_("ticket.arrived", event_id="oms/2026#17@x!~", source="oms:prod/eu-1"))
    assert (event.event_id, event.source) == ("oms/2026#17@x!~", "oms:prod/eu-1")


def test_outputs_refuse_unsafe_ids_too():
    from pydantic import ValidationError

    from schemas import Scope
    from schemas.common import ID_PATTERN

    with pytest.raises(ValidationError) as caught:
        Scope.model_validate({"district_id": "north\r\nfake"})
    error = caught.value.errors()[0]  # parse_event reports this as bad_id
    assert error["type"] == "string_pattern_mismatch" and error["ctx"]["pattern"] == ID_PATTERN
