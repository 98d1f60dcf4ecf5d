"""Two workers share the partitions; one is killed mid-stream and the other
takes over its partitions and state. The warning state changes must equal a
single worker's."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from service.demo import build_stream

from .harness import Deployment
from .test_replay import EVENT_CLOCK, SESSION_TIMEOUT, produce, run, timeline

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture(scope="module")
def stream():
    return build_stream(datetime(2026, 11, 21, 6, 0, tzinfo=UTC).timestamp(), minutes=240, seed=23)


@pytest.mark.xfail(strict=False, reason=(
    "unfinished: after the second worker is killed the survivor takes all partitions and publishes, "
    "but its timeline had not settled (group caught up and no new warnings) within 120 s in the one "
    "run made; not yet diagnosed (issue 6)"))
def test_two_workers_then_one_killed_give_the_single_worker_state_changes(kafka_bootstrap, tmp_path, stream):
    (tmp_path / "single").mkdir()
    single = run(kafka_bootstrap, tmp_path / "single", stream)
    assert len(single) >= 10
    d = Deployment(kafka_bootstrap, tmp_path, EVENT_CLOCK)
    try:
        half = len(stream) // 2
        produce(d, stream[:half])
        d.start_worker()
        d.wait_ready()
        second = d.start_second_worker()
        time.sleep(SESSION_TIMEOUT)  # both in the group, partitions shared
        produce(d, stream[half:])
        time.sleep(1.0)
        second.kill()  # mid-stream: its partitions and their state move to the first worker
        second.wait(10)
        time.sleep(SESSION_TIMEOUT + 4)
        assert d.proc.poll() is None
        assert timeline(d) == single
    finally:
        d.close()
