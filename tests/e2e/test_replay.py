"""Replays against the real broker: the same input gives the same warning
state changes, whether run twice or with the worker restarted in the middle."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from service.core.timefmt import to_epoch
from service.demo import build_stream

from .harness import Deployment

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

START = datetime(2026, 11, 20, 6, 0, tzinfo=UTC).timestamp()
ROLE_TOPIC = {"tickets": "repair_tickets", "outages": "outage_events"}
SESSION_TIMEOUT = 8
EVENT_CLOCK = {"RISK_CLOCK": "event", "RISK_EVENT_CLOCK_IDLE_SECONDS": "2", "RISK_TICK_SECONDS": "0.3",
               "RISK_SESSION_TIMEOUT_SECONDS": str(SESSION_TIMEOUT)}


def produce(d: Deployment, stream) -> None:
    for _, role, key, event in stream:
        d.producer.send(d.topics[ROLE_TOPIC[role]], key=key.encode(), value=json.dumps(event).encode())
    d.producer.flush()


def timeline(d: Deployment, settle: float = 6.0, timeout: float = 120, until: float | None = None) -> list[tuple]:
    """Warning state changes once no new one has appeared for `settle` seconds (and, given
    `until`, the worker has decided districts, feeders and staff up to it: see
    test_scenarios_e2e.drained for the lull this avoids)."""
    seen, stable_since, deadline = -1, time.time(), time.time() + timeout
    while time.time() < deadline:
        records = d.read("risk_warnings", lambda rs: True, timeout=5)
        if len(records) != seen or not d.caught_up() or (until is not None and d.decided_up_to() < until):
            seen, stable_since = len(records), time.time()
        elif time.time() - stable_since >= settle:
            break
        time.sleep(1)
    else:
        raise AssertionError(f"no stable timeline after {timeout}s:\n{d.log()[-3000:]}")
    out, by_id = [], {}
    for r in records:
        w = json.loads(r.value)
        first = by_id.setdefault(w["warning_id"], w)
        if first is not w:
            # A worker killed after sending a warning but before its state reached the changelog
            # sends it again, with the same id, for consumers to drop (README); it must say the same.
            assert {**w, "emitted_at": None} == {**first, "emitted_at": None}, f"{first}\n!= {w}"
            continue
        seq = int(w["warning_id"].rsplit("-", 1)[1])
        out.append((w["fingerprint"], seq, w["rule_id"], w["transition"], w["severity"],
                    w["changed_at"], w["metric"]["value"]))
    return sorted(out)  # by fingerprint, then the order of its state changes


def last_event(stream) -> float:
    return max(to_epoch(event["occurred_at"]) for _, _, _, event in stream)


def run(kafka_bootstrap, tmp_path, stream, restart_at: int | None = None, kill: bool = False,
        input_partitions: int = 4, env: dict | None = None):
    d = Deployment(kafka_bootstrap, tmp_path, {**EVENT_CLOCK, **(env or {})}, input_partitions=input_partitions)
    try:
        first = stream if restart_at is None else stream[:restart_at]
        produce(d, first)  # a backlog: produced before the worker starts
        d.start_worker()
        d.wait_ready()
        if restart_at is not None and kill:
            produce(d, stream[restart_at:])  # the worker is busy with these when it dies
            time.sleep(1.0)
            d.stop_worker(kill=True)
            d.start_worker()
            d.wait_ready()
            time.sleep(SESSION_TIMEOUT + 4)  # the broker gives the dead member's partitions back
        elif restart_at is not None:
            timeline(d, settle=4, until=last_event(first))
            d.stop_worker()
            produce(d, stream[restart_at:])
            d.start_worker()
            d.wait_ready()
        return timeline(d, until=last_event(stream))
    finally:
        d.close()


@pytest.fixture(scope="module")
def stream():
    return build_stream(START, minutes=240, seed=11)


@pytest.fixture(scope="module")
def reference(kafka_bootstrap, tmp_path_factory, stream):
    return run(kafka_bootstrap, tmp_path_factory.mktemp("ref"), stream)


def test_replay_of_a_backlog_fires_deadline_and_window_rules(reference):
    rules = {row[2] for row in reference}
    assert len(reference) >= 10
    assert {"repair.arrival_overdue", "outage.notice_late"} <= rules
    for fp in {row[0] for row in reference}:
        changes = [row for row in reference if row[0] == fp]
        assert changes[0][3] == "raised"  # every warning starts with a raise
        assert [row[1] for row in changes] == list(range(1, len(changes) + 1))  # no gap, no repeat
        for before, after in zip(changes, changes[1:]):
            assert (after[3] == "raised") == (before[3] == "resolved")  # raised again only after a resolve


def test_same_input_twice_gives_the_same_state_changes(kafka_bootstrap, tmp_path, stream, reference):
    assert run(kafka_bootstrap, tmp_path, stream) == reference


def test_events_sent_through_the_work_topic_give_the_same_state_changes(kafka_bootstrap, tmp_path, stream,
                                                                        reference):
    """Input topics with more partitions than the service's: no event is home where
    it is read, so every one crosses the work topic instead of being applied in place."""
    assert run(kafka_bootstrap, tmp_path, stream, input_partitions=8) == reference


def test_restart_in_the_middle_gives_the_same_state_changes(kafka_bootstrap, tmp_path, stream, reference):
    assert run(kafka_bootstrap, tmp_path, stream, restart_at=len(stream) // 2) == reference


def test_kill_9_in_the_middle_gives_the_same_state_changes(kafka_bootstrap, tmp_path, stream, reference):
    """SIGKILL while the stream is being processed: no clean shutdown, no final
    commit; state comes back from the changelog, input is redelivered."""
    assert run(kafka_bootstrap, tmp_path, stream, restart_at=len(stream) // 3, kill=True) == reference


def test_state_in_rocksdb_gives_the_same_state_changes(kafka_bootstrap, tmp_path, stream, reference):
    """The worker on RocksDB (states kept as bytes, one database per partition, read from the one
    of the key's home partition) decides as on memory://, where the reference runs."""
    pytest.importorskip("rocksdict")
    assert run(kafka_bootstrap, tmp_path, stream, env={"RISK_STORE": "rocksdb://"}) == reference
