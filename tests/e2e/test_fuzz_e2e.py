"""Bad input through the real path: a fuzz corpus and property-generated
messages, interleaved with good events. Every bad message must be on the
dead-letter topic with a reason, the worker must keep running, and every good
event around them must be processed."""

from __future__ import annotations

import json
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import BadEvent, DeadLetter, parse_event
from service.core.fingerprint import fingerprint

from .harness import Deployment
from .test_worker_e2e import MIN, ticket

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

GOOD = {"event_id": "x", "type": "ticket.created", "occurred_at": "2026-11-27T08:00:00+08:00", "ticket_id": "T",
        "district_id": "D", "area_type": "urban", "category": "no_power", "priority": "normal"}


def corpus() -> list[bytes]:
    def variant(**changes):
        return json.dumps({**GOOD, **changes}).encode()

    return [
        b"", b"null", b"42", b'"a string"', b"[]", b"{", b"}{", b"\x00\x01\x02",
        b"\xff\xfe\xfd", b'{"event_id": "\xc3\x28"}', "é".encode("latin-1"),
        b"[" * 100_000 + b"]" * 100_000,
        json.dumps({**GOOD, "note": "x" * 500_000}).encode()[:-1] + b"",  # huge and truncated: not JSON
        variant(ticket_id="x" * 65), variant(event_id=""), variant(event_id="e" * 129),
        variant(type="ticket.exploded"), variant(type=None), variant(type=7),
        variant(occurred_at="2026-11-27T08:00:00"), variant(occurred_at="yesterday"),
        variant(occurred_at="9999-12-31T00:00:00Z"), variant(occurred_at="0001-01-01T00:00:00Z"),
        variant(occurred_at=1795000000), variant(area_type="suburban"), variant(priority=["urgent"]),
        variant(schema_version=0),
        json.dumps({k: v for k, v in GOOD.items() if k != "ticket_id"}).encode(),
        json.dumps({"event_id": "o", "type": "outage.started", "occurred_at": "2026-11-27T08:00:00Z", "outage_id": "O",
                    "kind": "unplanned", "district_id": "D", "feeder_id": "F", "area_type": "urban",
                    "customers_affected": -1}).encode(),
        json.dumps({"event_id": "b", "type": "bill.issued", "occurred_at": "2026-11-27T08:00:00Z", "account_id": "A",
                    "bill_id": "B", "district_id": "D", "customer_class": "industrial", "amount": 12.5,
                    "due_date": "2026-12-01", "period": "2026-11"}).encode(),
        json.dumps({"event_id": "b", "type": "bill.issued", "occurred_at": "2026-11-27T08:00:00Z", "account_id": "A",
                    "bill_id": "B", "district_id": "D", "customer_class": "industrial", "amount": "1.005",
                    "due_date": "2026-12-01", "period": "2026-11"}).encode(),
        json.dumps({"event_id": "s", "type": "survey.completed", "occurred_at": "2026-11-27T08:00:00Z",
                    "survey_id": "S", "district_id": "D", "score": 6}).encode(),
    ]


def property_generated(n: int) -> list[bytes]:
    """Messages hypothesis builds from the contract's shape, kept only if the contract refuses them."""
    out: list[bytes] = []
    value = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                      st.text(max_size=80), st.lists(st.integers(), max_size=3))
    message = st.dictionaries(st.sampled_from(list(GOOD) + ["amount", "score", "zzz"]), value, max_size=10)

    @settings(max_examples=n * 5, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), deadline=None)
    @given(message.map(lambda d: {**GOOD, **d}))
    def collect(candidate):
        raw = json.dumps(candidate).encode()
        try:
            parse_event(raw)
        except BadEvent:
            if len(out) < n and raw not in out:
                out.append(raw)

    collect()
    return out


def test_bad_input_is_dead_lettered_and_never_stops_good_events(kafka_bootstrap, tmp_path):
    bad = corpus() + property_generated(60)
    for raw in bad:  # the corpus really is bad, by the contract's own parser
        with pytest.raises(BadEvent):
            parse_event(raw)
    d = Deployment(kafka_bootstrap, tmp_path, {"RISK_CLOCK": "wall"})
    rng = random.Random(5)
    try:
        d.start_worker()
        d.wait_ready()
        now, good = time.time(), []
        for i, raw in enumerate(bad):
            key = f"bad-{i}".encode()
            d.producer.send(d.topics[rng.choice(["repair_tickets", "outage_events", "billing_events", "service_events"])],
                            key=key, value=raw)
            if i % 3 == 0:
                tid = f"T-fuzz-{i}"
                good.append(tid)
                d.producer.send(d.topics["repair_tickets"], key=tid.encode(), value=json.dumps(ticket(
                    f"g{i}", "ticket.created", now - 40 * MIN, tid, district_id="north", area_type="urban",
                    category="no_power", priority="normal")).encode())
        d.producer.flush()
        letters = d.read("dead_letters", lambda rs: len(rs) >= len(bad), timeout=120)
        reasons = {}
        for r in letters:
            dl = DeadLetter.model_validate_json(r.value)
            reasons[r.key] = dl.reason
            assert dl.detail and len(dl.detail) <= 500
        assert set(reasons) == {f"bad-{i}".encode() for i in range(len(bad))}
        assert set(reasons.values()) >= {"not_json", "not_utf8", "not_object", "unknown_type", "missing_field",
                                         "wrong_type", "out_of_range", "invalid_value"}
        fps = {fingerprint("repair.arrival_overdue", {"ticket_id": t}) for t in good}
        d.read("risk_warnings", lambda rs: fps <= {r.key.decode() for r in rs}, timeout=120)
        assert d.proc.poll() is None, "the worker must keep running"
    finally:
        d.close()
