"""The whole service against the real broker: produce with kafka-python, run
the real worker process, read warnings and dead letters back."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest

from schemas import DeadLetter, RiskWarning
from service.core.fingerprint import fingerprint

from .harness import Deployment

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

MIN = 60.0


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def ticket(event_id, type_, ts, ticket_id, **fields):
    return {"event_id": event_id, "type": type_, "occurred_at": iso(ts), "ticket_id": ticket_id, **fields}


def outage(event_id, type_, ts, outage_id, **fields):
    return {"event_id": event_id, "type": type_, "occurred_at": iso(ts), "outage_id": outage_id, **fields}


def warnings_for(records, fp):
    return [json.loads(r.value) for r in records if r.key == fp.encode()]


@pytest.fixture
def wall_deployment(kafka_bootstrap, tmp_path):
    d = Deployment(kafka_bootstrap, tmp_path, {"RISK_CLOCK": "wall"})
    d.start_worker()
    d.wait_ready()
    yield d
    d.close()


@pytest.fixture
def event_deployment(kafka_bootstrap, tmp_path):
    d = Deployment(kafka_bootstrap, tmp_path, {"RISK_CLOCK": "event", "RISK_EVENT_CLOCK_IDLE_SECONDS": "1"})
    d.start_worker()
    d.wait_ready()
    yield d
    d.close()


def test_overdue_crew_raises_escalates_and_resolves_with_cloudevents_headers(wall_deployment):
    d = wall_deployment
    now = time.time()
    created = now - 50 * MIN  # backdated: its deadlines passed while nothing arrived
    d.send("repair_tickets", "T-late", ticket("e1", "ticket.created", created, "T-late",
           district_id="north", area_type="urban", category="no_power", priority="normal"))
    red_created = now - 95 * MIN
    d.send("repair_tickets", "T-red", ticket("e2", "ticket.created", red_created, "T-red",
           district_id="north", area_type="urban", category="no_power", priority="normal"))
    fp_late = fingerprint("repair.arrival_overdue", {"ticket_id": "T-late"})
    fp_red = fingerprint("repair.arrival_overdue", {"ticket_id": "T-red"})

    d.read("risk_warnings", lambda rs: len(warnings_for(rs, fp_late)) >= 2 and len(warnings_for(rs, fp_red)) >= 3)
    d.send("repair_tickets", "T-late", ticket("e3", "ticket.arrived", now, "T-late", crew_id="C1"))
    records = d.read("risk_warnings", lambda rs: len(warnings_for(rs, fp_late)) >= 3)

    late = warnings_for(records, fp_late)
    assert [(w["transition"], w["severity"]) for w in late] == [
        ("raised", "yellow"), ("escalated", "orange"), ("resolved", "orange")]
    assert late[0]["changed_at"] == iso(created + 36 * MIN).replace("+00:00", ".000Z")
    assert late[1]["previous_severity"] == "yellow"
    assert late[2]["status"] == "resolved" and late[2]["metric"]["value"] == pytest.approx(50, abs=0.1)
    red = warnings_for(records, fp_red)
    assert [(w["transition"], w["severity"]) for w in red] == [
        ("raised", "yellow"), ("escalated", "orange"), ("escalated", "red")]
    for w in late + red:
        RiskWarning.model_validate(w)  # the published body honours the contract's model

    record = next(r for r in records if r.key == fp_late.encode())
    headers = {k: v.decode() for k, v in record.headers}
    body = json.loads(record.value)
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_id"] == body["warning_id"]
    assert headers["ce_type"] == "risk.warning.raised"
    assert headers["ce_time"] == body["changed_at"]
    assert headers["ce_source"] and headers["content-type"] == "application/json"
    # one message per state change: nothing repeated while it stays orange
    time.sleep(1.5)
    again = d.read("risk_warnings", lambda rs: True)
    assert len(warnings_for(again, fp_late)) == 3 and len(warnings_for(again, fp_red)) == 3

    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{d.port}/metrics", timeout=5) as r:
        exposition = r.read().decode()
    assert 'risk_warnings_published_total{rule="repair.arrival_overdue",severity="red",transition="escalated"} 1.0' in exposition
    # T-red still fires red; T-late resolved, so nothing orange is left firing in north: its series is gone
    assert 'risk_warnings_firing{district="north",rule="repair.arrival_overdue",severity="red"} 1.0' in exposition
    assert 'risk_warnings_firing{district="north",rule="repair.arrival_overdue",severity="orange"}' not in exposition
    assert 'risk_event_lag_seconds_count{topic="%s"} 3.0' % d.topics["repair_tickets"] in exposition


def test_unplanned_outage_without_notice_in_event_time(event_deployment):
    d = event_deployment
    t0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC).timestamp()
    d.send("outage_events", "O-1", outage("o1", "outage.started", t0, "O-1", kind="unplanned",
           district_id="east", feeder_id="F-9", area_type="rural", customers_affected=420))
    # Event time moves on: another outage 40 minutes later.
    d.send("outage_events", "O-2", outage("o2", "outage.started", t0 + 40 * MIN, "O-2", kind="planned",
           district_id="east", feeder_id="F-3", area_type="rural", customers_affected=10))
    fp = fingerprint("outage.notice_late", {"outage_id": "O-1"})
    d.read("risk_warnings", lambda rs: len(warnings_for(rs, fp)) >= 3)
    d.send("outage_events", "O-1", outage("o3", "outage.notice_published", t0 + 41 * MIN, "O-1", channel="sms"))
    records = d.read("risk_warnings", lambda rs: len(warnings_for(rs, fp)) >= 4)
    got = warnings_for(records, fp)
    assert [(w["transition"], w["severity"], w["changed_at"][11:16]) for w in got] == [
        ("raised", "yellow", "08:10"), ("escalated", "orange", "08:15"),
        ("escalated", "red", "08:30"), ("resolved", "red", "08:41")]
    assert got[0]["scope"] == {"outage_id": "O-1", "district_id": "east", "feeder_id": "F-9"}
    assert got[-1]["evidence"][:2] == ["o1", "o3"]


BAD = [
    (b"bad-json", b"{this is not json", "not_json"),
    (b"bad-type", json.dumps({"event_id": "b2", "type": "ticket.teleported", "occurred_at": "2026-11-27T08:00:00Z",
                               "ticket_id": "T9"}).encode(), "unknown_type"),
    (b"bad-missing", json.dumps({"event_id": "b3", "type": "ticket.created", "occurred_at": "2026-11-27T08:00:00Z",
                                  "ticket_id": "T9"}).encode(), "missing_field"),
    (b"bad-utf8", b'{"event_id": "\xff\xfe"}', "not_utf8"),
    (None, json.dumps([1, 2, 3]).encode(), "not_object"),
]


def test_bad_messages_go_to_dead_letters_and_good_ones_around_them_are_processed(wall_deployment):
    d = wall_deployment
    now = time.time()
    good_ids = []
    for i, (key, value, _) in enumerate(BAD):
        tid = f"T-good-{i}"
        good_ids.append(tid)
        d.send("repair_tickets", tid, ticket(f"g{i}", "ticket.created", now - 40 * MIN, tid,
               district_id="north", area_type="urban", category="voltage", priority="normal"))
        d.send("repair_tickets", key, value)
    letters = d.read("dead_letters", lambda rs: len(rs) >= len(BAD))
    by_reason = {}
    for r in letters:
        dl = DeadLetter.model_validate_json(r.value)
        by_reason[dl.reason] = (r, dl)
    assert sorted(by_reason) == sorted(reason for _, _, reason in BAD)
    for key, value, reason in BAD:
        record, dl = by_reason[reason]
        assert record.key == key
        assert dl.value_base64 and base64.b64decode(dl.value_base64) == value
        assert dl.topic == d.topics["repair_tickets"] and dl.detail
    fps = {fingerprint("repair.arrival_overdue", {"ticket_id": t}) for t in good_ids}
    d.read("risk_warnings", lambda rs: fps <= {r.key.decode() for r in rs})
    assert d.proc.poll() is None, "the worker must keep running"


def test_an_item_of_a_work_record_that_fails_is_dead_lettered_and_its_neighbours_applied(wall_deployment):
    # A work-topic record carries many events (a batch's derived and forwarded ones). One that
    # the engine cannot apply (a bug: here, an event without an id) must not take the others
    # with it: it goes to the dead letters with its own key and value, the rest are applied.
    from kafka.partitioner import murmur2

    from schemas import parse_event

    d = wall_deployment
    created = time.time() - 40 * MIN
    good = parse_event(json.dumps(ticket("w1", "ticket.created", created, "T-work-good", district_id="north",
                                         area_type="urban", category="voltage", priority="normal")).encode())
    good_body = good.model_dump(mode="json", exclude_none=True)
    bad_body = {k: v for k, v in good_body.items() if k != "event_id"} | {"ticket_id": "T-work-bad"}
    items = [["ticket:T-work-bad", created, bad_body], ["ticket:T-work-good", created, good_body]]
    partition = (murmur2(b"T-work-good") & 0x7FFFFFFF) % 4  # the good ticket's home, as the worker would send it
    d.producer.send(f"{d.app_id}-work", value=json.dumps({"kind": "events", "items": items}).encode(),
                    partition=partition)
    d.producer.flush()

    letters = d.read("dead_letters", lambda rs: len(rs) >= 1)
    assert len(letters) == 1
    letter = DeadLetter.model_validate_json(letters[0].value)
    assert letters[0].key == b"ticket:T-work-bad"
    assert letter.reason == "processing_error" and "KeyError" in letter.detail
    assert json.loads(base64.b64decode(letter.value_base64)) == bad_body
    assert letter.topic == f"{d.app_id}-work" and letter.partition == partition
    fp = fingerprint("repair.arrival_overdue", {"ticket_id": "T-work-good"})
    d.read("risk_warnings", lambda rs: fp.encode() in {r.key for r in rs})
    assert d.proc.poll() is None, "the worker must keep running"


def test_a_batch_kafka_refuses_stops_the_worker_with_code_4_and_is_read_again(kafka_bootstrap, tmp_path):
    # The fault: a producer size limit (Faust reads PRODUCER_MAX_REQUEST_SIZE) below the work record
    # that a batch of tickets derives for their district, so the batch's end is refused.
    d = Deployment(kafka_bootstrap, tmp_path, {"RISK_CLOCK": "wall", "PRODUCER_MAX_REQUEST_SIZE": "30000",
                                               "RISK_SESSION_TIMEOUT_SECONDS": "8"})  # the exited member goes soon
    try:
        created = time.time() - 40 * MIN  # each ticket's arrival deadline (36 min) has passed
        ids = [f"T-{i}" for i in range(400)]
        for i, t in enumerate(ids):  # there before the worker starts: it reads them in large batches
            d.producer.send(d.topics["repair_tickets"], key=t.encode(), value=json.dumps(ticket(
                f"e{i}", "ticket.created", created + i / 10, t, district_id="north", area_type="urban",
                category="no_power", priority="normal")).encode())
        d.producer.flush()
        d.start_worker()
        deadline = time.time() + 90
        while d.proc.poll() is None and time.time() < deadline:
            time.sleep(0.3)
        assert d.proc.returncode == 4, f"expected exit code 4, got {d.proc.returncode}:\n{d.log()[-3000:]}"
        refusal = next(line for line in d.log().splitlines() if "could not finish a batch" in line)
        assert "MessageSizeTooLargeError" in refusal and "exiting with code 4" in refusal
        assert not d.caught_up(within=0), "the refused batch was committed"

        del d.extra_env["PRODUCER_MAX_REQUEST_SIZE"]  # what an operator does once the log says why
        d.start_worker()
        d.wait_ready()
        fps = {fingerprint("repair.arrival_overdue", {"ticket_id": t}): t for t in ids}

        def raised(records):
            return {fps[r.key.decode()] for r in records
                    if r.key and r.key.decode() in fps and json.loads(r.value)["transition"] == "raised"}

        records = d.read("risk_warnings", lambda rs: len(raised(rs)) == len(ids), timeout=120)
        assert raised(records) == set(ids)
        deadline = time.time() + 60
        while not d.caught_up(work=True) and time.time() < deadline:
            time.sleep(1)
        assert d.caught_up(work=True), "the restarted worker did not commit the batch it read again"
        assert d.read("dead_letters", lambda rs: True, timeout=2) == []
    finally:
        d.close()
