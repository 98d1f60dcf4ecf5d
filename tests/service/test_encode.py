"""Records the service hands to the producer itself carry the bytes Faust would have written."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import faust
import pytest

from service.faust_fixes import encode

VALUES = [
    {"kind": "events", "items": [["ticket:T1", 1795748100.5, {"type": "ticket.created", "ticket_id": "T1"}]]},
    {"kind": "district", "facts": {"district_id": "D01"}, "recent": "AAAAAAAA", "last_ts": 1.0, "p": 3,
     "rules": {"r": {"w": {"b": {"1795748100.0": [1, 2.5]}, "evaluated": None, "late": 0}}}},
    {"summary_zh": "北区抢修超时", "n": None, "ok": True, "big": 2**53, "neg": -0.0},
    ["a", 1, None],
    "ticket:T-1",
    {1: "a non-string key", "n": {2.5: [3]}},  # orjson needs Faust's option for these: Faust's own call
    {"at": datetime(2026, 11, 27, 8, 30, tzinfo=UTC), "amount": Decimal("12.50")},
]


@pytest.fixture(scope="module")
def app():
    return faust.App("encode-test", broker="kafka://127.0.0.1:1", store="memory://")


@pytest.mark.parametrize("value", VALUES)
def test_a_json_topic_gets_fausts_own_bytes(app, value):
    topic = app.topic("work", internal=True, key_serializer="json", value_serializer="json")
    assert encode(topic, value, key=False) == topic.prepare_value(value, None)[0]
    assert encode(topic, value, key=True) == topic.prepare_key(value, None)[0]


@pytest.mark.parametrize("value", VALUES)
def test_a_table_changelog_gets_fausts_own_bytes(app, value):
    table = app.Table(f"t{VALUES.index(value)}", default=None,
                      schema=faust.Schema(key_serializer="json", value_serializer="json"))
    topic = table.changelog_topic
    assert encode(topic, value, key=False, serializer=table.value_serializer) == \
        topic.prepare_value(value, table.value_serializer)[0]
    assert encode(topic, "district:D01", key=True, serializer=table.key_serializer) == b'"district:D01"'


def test_a_raw_topic_goes_fausts_way(app):
    topic = app.topic("raw", key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    assert encode(topic, b"\xff bytes", key=False) == b"\xff bytes"


OUTPUTS = [
    {"warning_id": "w-1", "summary": "北区抢修超时 — ‮bidi", "n": None, "ok": True, "big": 2**53, "neg": -0.0,
     "ratio": 0.1 + 0.2, "scope": {"district_id": "D01"}, "evidence": [{"count": 3}, "x\ny"]},
    {"beyond_64_bits": 2**70, "text": "é"},  # orjson refuses it: the standard library's bytes
]


@pytest.mark.parametrize("message", OUTPUTS)
def test_a_warning_is_utf8_json_of_the_same_value(message):
    from service.worker.publish import json_bytes

    out = json_bytes(message)
    assert json.loads(out) == message
    assert "é".encode() in out or "北".encode() in out  # UTF-8 as is, not \\u escapes (as ensure_ascii=False)
