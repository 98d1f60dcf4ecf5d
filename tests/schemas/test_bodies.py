"""read_event gives what parse_event and model_dump give, for every input: the same body (keys, order,
value types and values), the same time, or the same dead-letter reason and detail.

The reference is the models' path as the worker ran it: `parse_event(raw)`, then
`model_dump(mode="json", exclude_none=True)` and `occurred_at.timestamp()`.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.mix import encode, mix
from schemas import EVENT_TYPES, BadEvent, parse_event, read_event
from schemas.bodies import _body

from .test_events import BAD, EXAMPLES, mutated, raw


def _typed(body: dict) -> list:
    return [(key, type(value).__name__, value) for key, value in body.items()]


def reference(data) -> tuple:
    try:
        parsed = parse_event(data)
    except BadEvent as bad:
        return ("bad", bad.reason, bad.detail)
    ts = parsed.occurred_at.timestamp()
    return ("ok", _typed(parsed.model_dump(mode="json", exclude_none=True)), type(ts).__name__, ts)


def read(data) -> tuple:
    try:
        body, ts = read_event(data)
    except BadEvent as bad:
        return ("bad", bad.reason, bad.detail)
    return ("ok", _typed(body), type(ts).__name__, ts)


def assert_same(inputs) -> int:
    """Both paths over `inputs`; the number the plain route read itself."""
    fast = 0
    for data in inputs:
        assert read(data) == reference(data), data[:300]
        fast += _body(data) is not None
    return fast


MIX = [encode(event) for _, _, _, event in mix(3000, 1764000000.0, 6 * 3600, seed=7)]

TIMES = [
    "2026-11-27T08:15:00Z", "2026-11-27T08:15:00+08:00", "2026-11-27T08:15:00-05:30", "2026-11-27T08:15:00+23:59",
    "2026-11-27T08:15:00-23:59", "2026-11-27T08:15:00+24:00", "2026-11-27T08:15:00+00:60", "2026-11-27T08:15:00-00:00",
    "2026-11-27T08:15:00+00:00", "2026-11-27T08:15:00.5Z", "2026-11-27T08:15:00.000000Z", "2026-11-27T08:15:00.000001Z",
    "2026-11-27T08:15:00.123456+08:00", "2026-11-27T08:15:00.1234567Z", "2026-11-27T08:15:00.123456789-01:00",
    "2026-11-27T08:15:00.Z", "2026-11-27t08:15:00Z", "2026-11-27T08:15:00z", "2026-11-27 08:15:00Z",
    "2026-11-27T08:15:00", "2026-11-27T08:15Z", "2026-11-27", "2026-11-27T24:00:00Z", "2026-11-27T23:59:60Z",
    "2026-11-27T23:60:00Z", "2026-02-29T00:00:00Z", "2024-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
    "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-01-00T00:00:00Z", "0000-01-01T00:00:00Z",
    "1990-01-01T00:00:00Z", "1989-12-31T23:59:59Z", "1989-12-31T23:59:59.999999Z", "1990-01-01T00:00:00+00:01",
    "1989-12-31T23:00:00-01:00", "2100-12-31T23:59:59Z", "2100-12-31T23:59:59.999999Z", "2101-01-01T00:00:00Z",
    "2100-12-31T23:59:59-00:01", "2101-01-01T00:30:00+01:00", "9999-12-31T23:59:59Z", "2026-11-27T08:15:00+0800",
    "2026-11-27T08:15:00+08", "２０２６-11-27T08:15:00Z", "2026-11-27T08:15:00Z\n", " 2026-11-27T08:15:00Z",
    "2026-W48-5T08:15:00Z", "20261127T081500Z", "1700000000", "2026-11-27T08:15:00.5+08:00",
]
MONEY = ["1234.50", "0", "0.0", "0.00", "00", "0012.5", "12.", ".5", "-0.00", "-0", "-5.00", "+5", "1e3", "1E3",
         "10.005", "999999999999999.99", "1000000000000000", "0000000000000000001", "1 000", " 1", "1.5 ",
         "١٢٣", "0.05", "5.10", "nan", "Infinity", 12, 12.5, None, True]
DATES = ["2026-12-15", "2024-02-29", "2026-02-29", "1990-01-01", "1989-12-31", "2100-12-31", "2101-01-01", "2026-1-5",
         "20261215", "2026-12-15T00:00:00Z", "2026-W50-1", "٢٠٢٦-12-15", 20261215, None]
PERIODS = ["2026-11", "2026-13", "2026-00", "1989-12", "1990-01", "2100-12", "2101-01", "2026-1", "202611", "٢٠٢٦-11",
           None, 202611]
VALUES = [None, True, False, 0, 1, -1, 5, 6, -0.0, 1.0, 0.5, 2**31 - 1, 2**31, 2**63, -(2**63), "", " ", "x", "T1",
          "T" * 64, "T" * 65, "e" * 128, "e" * 129, "a b", "-T1", "T1\n", "T1 ", "n\u043erth", "north\u0000", "M/1",
          "x\u202ey", "a:b.c_d-e", "!~", "X" * 2000, "X" * 2001, "\U0001f600" * 2000, "\U0001f600" * 2001, "CNY",
          "usd", "USD", [], {}, ["x"], {"a": 1}, [[[]]]]


def mutations() -> list[bytes]:
    out = []
    for type_, example in EXAMPLES.items():
        fields = set(example) | set(EVENT_TYPES[type_].model_fields)
        for field in sorted(fields):
            out.append(raw({k: v for k, v in example.items() if k != field}))
            values = list(VALUES)
            if field in ("occurred_at", "scheduled_start", "scheduled_end"):
                values += TIMES
            values += {"amount": MONEY, "due_date": DATES, "period": PERIODS}.get(field, [])
            annotation = EVENT_TYPES[type_].model_fields[field].annotation if field != "type" else None
            values += [a for a in getattr(annotation, "__args__", ()) if isinstance(a, str)]
            out += [raw({**example, field: value}) for value in values]
        for value in VALUES + [1.5, 1e300]:
            out.append(raw({**example, "extra": value}))
            out.append(raw({"extra": value, **example}))
    return out


def test_the_benchmark_mix_reads_the_same_and_by_the_plain_route():
    assert assert_same(MIX) == len(MIX)


def test_every_example_reads_the_same_and_by_the_plain_route():
    examples = [raw(event) for event in EXAMPLES.values()]
    assert assert_same(examples) == len(examples)
    # the forms the models write back, and the bytes a producer might send
    assert assert_same([parse_event(data).model_dump_json().encode() for data in examples]) == len(examples)
    compact = [json.dumps(event, separators=(",", ":")).encode() for event in EXAMPLES.values()]
    assert assert_same(compact) == len(compact)


def test_every_refused_case_gets_the_same_reason_and_detail():
    assert assert_same([case[1] for case in BAD]) == 0


def test_mutated_fields_read_the_same():
    cases = mutations()
    fast = assert_same(cases)
    assert 0 < fast < len(cases)  # both routes are exercised


@pytest.mark.parametrize("data", [
    b'{"event_id":"e1","type":"ticket.arrived","type":"ticket.dispatched","occurred_at":"2026-11-23T08:03:34Z",'
    b'"ticket_id":"T1","crew_id":"C1"}',
    b'{"event_id":"e1","type":"ticket.dispatched","occurred_at":"2026-11-23T08:03:34Z","ticket_id":"T1",'
    b'"crew_id":"C1","crew_id":"C 2"}',
    b'{"event_id":"e1","type":"ticket.dispatched","occurred_at":"2026-11-23T08:03:34Z","ticket_id":"T1",'
    b'"crew_id":"C 1","crew_id":"C2"}',
    b'\xef\xbb\xbf{"event_id":"e1","type":"ticket.arrived","occurred_at":"2026-11-23T08:03:34Z","ticket_id":"T1"}',
    b' \n{"event_id":"e1","type":"ticket.arrived","occurred_at":"2026-11-23T08:03:34Z","ticket_id":"T1"}\t ',
    b'{"event_id":"e1","type":"ticket.arrived","occurred_at":"2026-11-23T08:03:34Z","ticket_id":"T1"}x',
    b'{"event_id":"e1","type":"ticket.completed","occurred_at":"2026-11-23T08:03:34Z","ticket_id":"T1",'
    b'"resolution":"a\\ud800b"}',
    b'{"event_id":"e1","type":"ticket.completed","occurred_at":"2026-11-23T08:03:34Z","ticket_id":"T1",'
    b'"resolution":"a\\ud83d\\ude00\\u0000\\/b"}',
    b'{"event_id":"e1","type":"ticket.completed","occurred_at":"2026-11-23T08:03:34Z","ticket_id":"T1",'
    b'"resolution":"\xed\xa0\x80"}',
    b'{"event_id":"e1","type":"ticket.completed","occurred_at":"2026-11-23T08:03:34Z","ticket_id":"T1","x":1e999}',
    b'{"event_id":"e1","type":"ticket.completed","occurred_at":"2026-11-23T08:03:34Z","ticket_id":"T1","x":'
    + b"[" * 300 + b"]" * 300 + b"}",
    b'{"event_id":"e1","type":"ticket.completed","occurred_at":"2026-11-23T08:03:34Z","ticket_id":"T1","x":1'
    + b"0" * 30 + b"}",
    b'{"event_id":"e1","type":"outage.restored","occurred_at":"2026-11-23T08:03:34Z","outage_id":"O1",'
    b'"customers_restored":-0}',
    b'{"event_id":"e1","type":"outage.restored","occurred_at":"2026-11-23T08:03:34Z","outage_id":"O1",'
    b'"customers_restored":1.0E2}',
    b'{"event_id":"e1","type":"outage.restored","occurred_at":"2026-11-23T08:03:34Z","outage_id":"O1",'
    b'"customers_restored":18446744073709551615}',
    b'{"event_id":"e1","type":"ticket.followed_up","occurred_at":"2026-11-23T08:03:34Z","ticket_id":"T1",'
    b'"satisfied":1}',
    b'{"event_id":"e1","type":"outage.scheduled","occurred_at":"2026-11-23T08:03:34Z","outage_id":"O1","kind":"planned",'
    b'"district_id":"D","feeder_id":"F","area_type":"urban","customers_affected":1,'
    b'"scheduled_start":"2026-12-05T09:00:00.000001+08:00","scheduled_end":"2026-12-05T01:00:00Z"}',
    b'{"event_id":"e1","type":"outage.scheduled","occurred_at":"2026-11-23T08:03:34Z","outage_id":"O1","kind":"planned",'
    b'"district_id":"D","feeder_id":"F","area_type":"urban","customers_affected":1,'
    b'"scheduled_start":"2026-12-05T09:00:00+08:00","scheduled_end":"2026-12-05T01:00:00Z"}',
    b"null", b"[]", b"{}", b'"x"', b"1", b"",
    b'{"type":null}', b'{"type":["ticket.arrived"]}', b'{"type":"ticket.arrived"}',
], ids=lambda data: data[:40].decode("utf-8", "replace"))
def test_raw_edge_cases_read_the_same(data):
    assert_same([data])


def test_text_and_buffers_read_like_bytes():
    data = raw(EXAMPLES["ticket.created"])
    assert assert_same([data.decode(), bytearray(data), memoryview(data)]) == 3
    assert_same(['{"event_id": "\ud800", "type": "ticket.arrived"}', '{"event_id": "e", "x": "\ud800"}'])


def test_the_reference_sees_a_changed_field():
    """The comparison itself notices one value, one value's type or the order of two keys."""
    body = reference(raw(EXAMPLES["bill.issued"]))[1]
    assert _typed(dict(body_item[::2] for body_item in body)) == body
    changed = [(k, t, "1234.5" if k == "amount" else v) for k, t, v in body]
    assert changed != body
    assert [(k, "bool" if v == 1 and t == "int" else t, v) for k, t, v in body] != body
    assert body[1:2] + body[:1] + body[2:] != body


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(EXAMPLES)), st.data())
def test_mutated_events_read_the_same(type_, data):
    assert_same([json.dumps(mutated(type_, data)).encode()])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_read_the_same(data):
    assert_same([data])
