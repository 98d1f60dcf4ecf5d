"""The broker is stopped while the worker is processing, and started again.

The test runs its own broker (deploy/kafka.sh with its own ports and data
directory), since it stops it; the others' broker is never touched. Two ways
through an outage, both compared with an uninterrupted run of the same
stream on the same broker:

- short: the worker keeps running; its Kafka clients retry until the broker
  is back, and it goes on where it was.
- long: once no write has been acknowledged for
  RISK_BROKER_UNREACHABLE_EXIT_SECONDS the worker exits with code 3, as a
  supervisor (systemd, Kubernetes) would see it; started again once the
  broker is back, it reads again what it had not committed.

Either way no warning state change is lost. Without an exit none is published
twice; after an exit, one sent before the outage whose input was not yet
committed can be sent again, with the same id, for consumers to drop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from .harness import ROOT, Deployment, free_port
from .test_replay import EVENT_CLOCK, last_event, produce, run, stream, timeline  # noqa: F401  (stream: fixture)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


class OwnBroker:
    """A broker of this test's own, on free ports, that it may stop and start."""

    def __init__(self, data_dir):
        self.port, controller = free_port(), free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP"}  # else kafka.sh uses that one
        self.env.update(KAFKA_PORT=str(self.port), KAFKA_CONTROLLER_PORT=str(controller),
                        KAFKA_DATA_DIR=str(data_dir), KAFKA_PROBE_PYTHON=sys.executable)

    def kafka_sh(self, command: str) -> None:
        out = subprocess.run([str(ROOT / "deploy" / "kafka.sh"), command], env=self.env, check=False,
                             capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise AssertionError(f"deploy/kafka.sh {command} failed:\n{out.stdout}\n{out.stderr}")

    def start(self) -> None:
        self.kafka_sh("start")

    def stop(self) -> None:
        self.kafka_sh("stop")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = OwnBroker(tmp_path_factory.mktemp("kafka"))
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="module")
def reference(broker, tmp_path_factory, stream):  # noqa: F811
    return run(broker.bootstrap, tmp_path_factory.mktemp("ref"), stream)


def warning_ids(d: Deployment) -> list[str]:
    return [json.loads(r.value)["warning_id"] for r in d.read("risk_warnings", lambda rs: True, timeout=5)]


def through_an_outage(broker, tmp_path, stream, away: float, extra_env: dict | None = None):  # noqa: F811
    """Half the stream as a backlog, a quarter while the worker runs, the broker stopped
    while it processes that quarter and started again `away` seconds later, the rest."""
    d = Deployment(broker.bootstrap, tmp_path, {**EVENT_CLOCK, **(extra_env or {})})
    try:
        half, three_quarters = len(stream) // 2, 3 * len(stream) // 4
        produce(d, stream[:half])
        d.start_worker()
        d.wait_ready()
        produce(d, stream[half:three_quarters])  # the worker is busy with these when the broker goes
        time.sleep(0.3)
        broker.stop()
        time.sleep(away)
        exit_code = d.proc.poll()
        broker.start()
        if exit_code is not None:  # what a supervisor does
            d.start_worker()
            d.wait_ready()
        produce(d, stream[three_quarters:])
        changes = timeline(d, until=last_event(stream))
        ids = warning_ids(d)
        return exit_code, changes, ids, d.log()
    finally:
        d.close()


def test_a_short_broker_outage_loses_nothing_and_repeats_nothing(broker, tmp_path, stream, reference):  # noqa: F811
    exit_code, changes, ids, log = through_an_outage(broker, tmp_path, stream, away=10)
    assert exit_code is None, f"the worker exited ({exit_code}) during a 10 s outage"
    assert "Unable connect to node" in log  # it did lose the broker while running
    assert changes == reference
    assert len(ids) == len(set(ids)), "a warning was published twice"


def test_a_long_outage_exits_non_zero_and_the_restarted_worker_loses_nothing(broker, tmp_path, stream,  # noqa: F811
                                                                             reference):
    exit_code, changes, _, log = through_an_outage(broker, tmp_path, stream, away=12,
                                                   extra_env={"RISK_BROKER_UNREACHABLE_EXIT_SECONDS": "5"})
    assert exit_code == 3, f"expected exit code 3 after 5 s without the broker, got {exit_code}"
    assert "exiting with code 3" in log
    # Warnings sent before the outage whose input was not yet committed may be sent again by the
    # restarted worker, with the same id and content (timeline checks that), never lost.
    assert changes == reference
