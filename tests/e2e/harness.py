"""Runs the real worker as a process against the real broker, and reads its topics."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

ROOT = Path(__file__).resolve().parents[2]
TOPIC_FIELDS = ["outage_events", "repair_tickets", "billing_events", "service_events",
                "risk_warnings", "risk_notifications", "warning_acks", "dead_letters"]
INPUT_FIELDS = TOPIC_FIELDS[:4]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Deployment:
    """One isolated deployment: its own app id, topic names, data dir and web port."""

    bootstrap: str
    tmp: Path
    extra_env: dict = field(default_factory=dict)
    # kafka-python settings of the test's own clients (TLS, SASL), as the worker's come from extra_env
    client_options: dict = field(default_factory=dict)
    # Input topics are made with this many partitions before anything is produced:
    # as many as the service's (RISK_PARTITIONS) exercises the in-place path, another
    # number the forwarding one. None leaves them to the broker's auto-creation.
    input_partitions: int | None = 4

    def __post_init__(self):
        self.tag = uuid.uuid4().hex[:8]
        self.app_id = f"rw-test-{self.tag}"
        self.topics = {f: f"{f.replace('_', '-')}-{self.tag}" for f in TOPIC_FIELDS}
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = self.tmp / f"worker-{self.tag}.log"
        self.producer = KafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=0, **self.client_options)
        if self.input_partitions:
            from kafka.admin import KafkaAdminClient, NewTopic

            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, **self.client_options)
            try:
                admin.create_topics([NewTopic(self.topics[f], self.input_partitions, 1) for f in INPUT_FIELDS])
            finally:
                admin.close()

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RISK_")}
        env.update({
            "KAFKA_BOOTSTRAP": self.bootstrap,
            "RISK_APP_ID": self.app_id,
            "RISK_WEB_PORT": str(self.port),
            "RISK_WEB_HOST": "127.0.0.1",
            "RISK_DATA_DIR": str(self.tmp / f"data-{self.tag}"),
            "RISK_TICK_SECONDS": "0.2",
            "RISK_PARTITIONS": "4",
        })
        env.update({f"RISK_TOPICS__{f.upper()}": name for f, name in self.topics.items()})
        env.update(self.extra_env)
        return env

    def start_worker(self) -> None:
        subprocess.run([sys.executable, "-m", "service", "topics"], env=self.env(), check=True,
                       capture_output=True, timeout=60)
        self._log_from = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "service", "worker"], env=self.env(),
                                     stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)

    def start_second_worker(self) -> subprocess.Popen:
        """Another worker of the same app (same group, own web port and data dir)."""
        env = {**self.env(), "RISK_WEB_PORT": str(free_port()), "RISK_DATA_DIR": str(self.tmp / f"data2-{self.tag}")}
        log = open(self.second_log_path, "ab")
        self.extra = subprocess.Popen([sys.executable, "-m", "service", "worker"], env=env,
                                      stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        return self.extra

    def wait_ready(self, timeout: float = 90) -> None:
        """Ready once the worker's web server answers and its consumer has partitions."""
        import urllib.request

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    pass
                if "Ready" in self.log()[self._log_from:]:  # this start's log only
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"worker not ready after {timeout}s:\n{self.log()[-4000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def second_log_path(self) -> Path:
        return self.tmp / f"worker2-{self.tag}.log"

    def second_log(self) -> str:
        path = self.second_log_path
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_worker(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def close(self) -> None:
        self.stop_worker()
        extra = getattr(self, "extra", None)
        if extra is not None and extra.poll() is None:
            extra.kill()
            extra.wait(10)
        self.producer.close()

    def send(self, topic_field: str, key: str | bytes | None, value: dict | bytes) -> None:
        if isinstance(value, dict):
            value = json.dumps(value).encode()
        if isinstance(key, str):
            key = key.encode()
        self.producer.send(self.topics[topic_field], key=key, value=value)
        self.producer.flush()

    def metrics(self) -> str:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return r.read().decode()

    def decided_up_to(self) -> float:
        """How far the worker has decided districts, feeders and staff on every work partition
        (`risk_aggregate_clock_seconds`); -inf until every partition has a mark."""
        import re

        marks = re.findall(r'^risk_aggregate_clock_seconds\{partition="\d+"\} (\S+)$', self.metrics(), re.M)
        return min(map(float, marks)) if len(marks) == int(self.env()["RISK_PARTITIONS"]) else float("-inf")

    def caught_up(self, work: bool = False, within: float = 10.0) -> bool:
        """Has the worker's consumer group committed everything in the input topics
        (and, with `work`, in its internal work topic: events, derived events, ticks)?

        The worker sends a tick to every work partition each interval, also when idle,
        and commits every few seconds, so the work topic's end is always a little ahead
        of its commit: what must be committed is what was there when we looked, and the
        group gets `within` seconds to commit it."""
        from kafka import TopicPartition

        inputs = [self.topics[f] for f in ("outage_events", "repair_tickets", "billing_events", "service_events")]
        if work:
            inputs.append(f"{self.app_id}-work")
        # Not subscribed, never joins the group: only reads the group's committed offsets.
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=self.app_id, enable_auto_commit=False,
                                 **self.client_options)
        try:
            tps = [TopicPartition(t, p) for t in inputs for p in (consumer.partitions_for_topic(t) or ())]
            ends = consumer.end_offsets(tps)
            deadline = time.time() + within
            while True:
                if all(ends[tp] == 0 or (consumer.committed(tp) or 0) >= ends[tp] for tp in tps):
                    return True
                if time.time() > deadline:
                    return False
                time.sleep(0.5)
        finally:
            consumer.close()

    def read(self, topic_field: str, until, timeout: float = 60) -> list:
        """Read records from the start until `until(records)` is true; fail on timeout."""
        consumer = KafkaConsumer(self.topics[topic_field], bootstrap_servers=self.bootstrap,
                                 auto_offset_reset="earliest", enable_auto_commit=False, group_id=None,
                                 consumer_timeout_ms=500, **self.client_options)
        records = []
        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                for r in consumer:
                    records.append(r)
                if until(records):
                    return records
        finally:
            consumer.close()
        raise AssertionError(
            f"timed out reading {topic_field}; got {len(records)}:\n"
            + "\n".join(r.value.decode(errors="replace")[:300] for r in records)
            + f"\n--- worker log tail ---\n{self.log()[-3000:]}"
        )
