"""Benchmark: load, raw drain, service throughput, warning latency, memory. One run, one report.

    .venv/bin/python -m bench.run                 # everything, defaults from issue 7
    .venv/bin/python -m bench.run --quick         # smoke test: small sizes, short latency run
    .venv/bin/python -m bench.run --parts load,drain,throughput --events 100000
    .venv/bin/python -m bench.run --parts latency --rate 2000 --duration 60
    .venv/bin/python -m bench.run --parts memory --stores memory,rocksdb --accounts 1000000 --open-tickets 100000
    .venv/bin/python -m bench.run --parts throughput --profile 30   # py-spy the worker for 30 s of (c)

Parts (`--parts`, comma-separated; default all):
  load        (a) produce --events of the realistic mix (bench/mix.py) into fresh input topics
  drain       (b) a bare aiokafka consumer (group, from earliest) that only json.loads: the ceiling
  floor       (b') a Faust agent reading the same topics as ingest does (take_events) that only
              json.loads (bench/faust_floor.py): the ceiling for any service built on Faust agents
  floor-service (b') again, with the service's consumer (service.faust_fixes.Transport), as the worker reads
  floor-records (b'') the service's-consumer agent, also writing and sending as many Kafka records per
              event as the service does (SERVICE_RECORDS), with no rules: the ceiling for this design
  throughput  (c) `python -m service worker` (RISK_CLOCK=event) until its group's committed offsets
              reach the end of every input partition (and of its work topic)
  core        (b''') the service's own code alone (bench.core_cost: parse, route, engine, state JSON) over
              the mix in one process, no Kafka: the ceiling its rules set on one core
  latency     (d) worker with RISK_CLOCK=wall, background mix at --rate events/s, a probe ticket
              backdated 36 min + --probe-eps every 0.5 s; latency = produce -> warning read
  memory      (e) --accounts distinct accounts + --open-tickets open tickets, VmHWM per --stores
drain, floor, floor-service, floor-records and throughput need load (they run on the topics it filled).
The run ends with where (c) stands against TARGET_EPS, next to every ceiling it measured.

Every topic, and every worker group, carries a unique tag; all are deleted at the end (--keep to
keep them). The broker is started with deploy/kafka.sh start when KAFKA_BOOTSTRAP is not set and
is left running. Results go to stdout and, as JSON, to --json (default <tmp dir>/report.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from bench.mix import ROLES, days_ago, encode, iso, memory_stream, mix

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
PARTITIONS = 8
ROLE_FIELD = {"outages": "outage_events", "tickets": "repair_tickets", "billing": "billing_events",
              "service": "service_events"}
OUTPUT_FIELDS = ("risk_warnings", "risk_notifications", "warning_acks", "dead_letters")
PARTS = ("load", "drain", "floor", "floor-service", "floor-records", "throughput", "core", "latency", "memory")
TARGET_EPS = 10_000  # issue 7: events/s with all rules on, one worker on this 2-core machine

log = logging.getLogger("bench")
WORKER_ENV: dict[str, str] = {}  # --worker-env


def say(text: str = "") -> None:
    print(text, flush=True)


# ---------------------------------------------------------------- machine ----

def machine() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    except (OSError, AttributeError):
        pass
    import aiokafka
    import faust
    import kafka

    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kb / 2**20, 1),
            "python": platform.python_version(), "faust": faust.__version__, "aiokafka": aiokafka.__version__,
            "kafka_python": kafka.__version__, "kernel": platform.release()}


def bootstrap() -> str:
    if os.environ.get("KAFKA_BOOTSTRAP"):
        return os.environ["KAFKA_BOOTSTRAP"]
    out = subprocess.run([str(ROOT / "deploy" / "kafka.sh"), "start"], check=True, capture_output=True,
                         text=True).stdout
    m = re.search(r"KAFKA_BOOTSTRAP=(\S+)", out)
    if not m:
        raise SystemExit(f"deploy/kafka.sh start printed no KAFKA_BOOTSTRAP:\n{out}")
    return m.group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ kafka ----

class Kafka:
    def __init__(self, servers: str, tag: str):
        from kafka import KafkaAdminClient, KafkaConsumer

        self.servers, self.tag = servers, tag
        self.admin = KafkaAdminClient(bootstrap_servers=servers, client_id=f"{tag}-admin")
        self.meta = KafkaConsumer(bootstrap_servers=servers, group_id=None, client_id=f"{tag}-meta",
                                  enable_auto_commit=False)

    def topics(self, prefix: str) -> dict[str, str]:
        """A fresh set of contract topic names (field -> name), all carrying the run's tag."""
        names = {ROLE_FIELD[r]: f"{self.tag}-{prefix}-{ROLE_FIELD[r].replace('_', '-')}" for r in ROLES}
        names.update({f: f"{self.tag}-{prefix}-{f.replace('_', '-')}" for f in OUTPUT_FIELDS})
        return names

    def create(self, names) -> None:
        from kafka.admin import NewTopic

        self.admin.create_topics([NewTopic(n, num_partitions=PARTITIONS, replication_factor=1) for n in names])
        deadline = time.time() + 30
        while time.time() < deadline:
            self.meta.topics()  # refreshes the metadata
            if all(len(self.meta.partitions_for_topic(n) or ()) == PARTITIONS for n in names):
                time.sleep(2)  # leaders settle: producing at once gets NotLeaderForPartition retries
                return
            time.sleep(0.2)
        raise RuntimeError(f"topics not visible after 30 s: {names}")

    def tps(self, names):
        from kafka import TopicPartition

        return [TopicPartition(n, p) for n in names for p in range(PARTITIONS)]

    def end_offsets(self, names) -> dict:
        return self.meta.end_offsets(self.tps(names))

    def committed(self, group: str) -> dict:
        """The group's committed offsets (kafka-python 2.x: list_consumer_group_offsets; 3.x: list_group_offsets).

        None committed yet while the group's coordinator is not available: on a fresh broker
        the offsets topic is created by the first group that asks, which takes a few seconds.
        """
        from kafka.errors import CoordinatorNotAvailableError, NotCoordinatorError

        try:
            if hasattr(self.admin, "list_consumer_group_offsets"):
                offsets = self.admin.list_consumer_group_offsets(group)
            else:
                offsets = self.admin.list_group_offsets({group: None}).get(group, {})
        except (CoordinatorNotAvailableError, NotCoordinatorError):
            return {}
        return {tp: getattr(om, "offset", om) for tp, om in offsets.items()}

    def cleanup(self, groups) -> list[str]:
        mine = [t for t in self.admin.list_topics() if self.tag in t]
        if mine:
            self.admin.delete_topics(mine)
        try:
            if groups:
                (getattr(self.admin, "delete_groups", None) or self.admin.delete_consumer_groups)(list(groups))
        except Exception as e:  # groups of a worker that just stopped may still be "non-empty" briefly
            log.warning("could not delete consumer groups: %s", e)
        return mine

    def close(self) -> None:
        self.meta.close()
        self.admin.close()


async def produce(servers: str, records, total: int | None = None) -> tuple[int, float]:
    """Send (topic, key bytes, value bytes) records as fast as the producer takes them."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=servers, linger_ms=20, max_batch_size=512 * 1024, acks=1)
    await producer.start()
    n, pending = 0, []
    t0 = time.perf_counter()
    try:
        for topic, key, value in records:
            pending.append(await producer.send(topic, value, key=key))
            n += 1
            if len(pending) >= 20000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        await producer.flush()
    finally:
        await producer.stop()
    return n, time.perf_counter() - t0


# ---------------------------------------------------------------- workers ----

class Worker:
    """`python -m service worker` as a subprocess with its own app id, topics, data dir, port."""

    def __init__(self, servers: str, app_id: str, topics: dict[str, str], tmp: Path, clock: str,
                 store: str = "memory://", extra: dict | None = None, root: Path = ROOT):
        self.app_id, self.port, self.root = app_id, free_port(), root
        self.log_path = tmp / f"{app_id}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RISK_")}
        env.update({
            "KAFKA_BOOTSTRAP": servers, "RISK_APP_ID": app_id, "RISK_CLOCK": clock, "RISK_STORE": store,
            "RISK_PARTITIONS": str(PARTITIONS), "RISK_WEB_PORT": str(self.port), "RISK_WEB_HOST": "127.0.0.1",
            "RISK_DATA_DIR": str(tmp / f"data-{app_id}"),
        })
        env.update({f"RISK_TOPICS__{f.upper()}": name for f, name in topics.items()})
        env.update(extra or {})
        env.update(WORKER_ENV)
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.t_start = time.perf_counter()
        self.proc = subprocess.Popen([PY, "-m", "service", "worker"], env=self.env, cwd=self.root,
                                     stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker {self.app_id} exited {self.proc.returncode}:\n{self.log()[-3000:]}")

    def wait_ready(self, timeout: float = 120) -> float:
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.check_alive()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    pass
                if "ready" in self.log().lower():
                    return time.perf_counter() - self.t_start
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"worker {self.app_id} not ready after {timeout} s:\n{self.log()[-3000:]}")

    def late_events(self) -> dict[str, float]:
        """risk_late_events_total by subject kind: observations that came after their window was decided."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return {}
        out = {}
        for line in text.splitlines():
            if line.startswith("risk_late_events_total{"):
                labels, value = line.rsplit(" ", 1)
                out[labels[len("risk_late_events_total"):]] = float(value)
        return out

    def cpu_seconds(self) -> float:
        try:
            import psutil

            t = psutil.Process(self.proc.pid).cpu_times()
            return t.user + t.system
        except ImportError:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory(self) -> dict:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        get = lambda name: int(re.search(rf"{name}:\s+(\d+) kB", status).group(1)) / 1024  # noqa: E731
        return {"vmhwm_mib": round(get("VmHWM"), 1), "vmrss_mib": round(get("VmRSS"), 1)}

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def system_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, for its utilisation over an interval."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


def drain_worker(k: Kafka, w: Worker, inputs: list[str], total: int, timeout: float,
                 profile_s: float = 0, profile_out: Path | None = None) -> dict:
    """Start the worker; time until its committed offsets reach the ends of the inputs, then of its work topic."""
    ends = k.end_offsets(inputs)
    work = f"{w.app_id}-work"
    sys0 = system_cpu()
    w.start()
    t0 = w.t_start
    ready = first = t_in = t_all = None
    spy = None
    work_target = None
    deadline = time.perf_counter() + timeout
    last_report = 0.0
    while time.perf_counter() < deadline:
        w.check_alive()
        now = time.perf_counter()
        if ready is None and "ready" in w.log().lower():
            ready = now - t0
        committed = k.committed(w.app_id)
        if first is None:
            # the first event ingested shows up as the first record on the work topic
            try:
                if work in k.meta.topics() and sum(k.end_offsets([work]).values()) > 0:
                    first = now - t0
                    if profile_s and profile_out is not None:
                        spy = subprocess.Popen([str(Path(PY).parent / "py-spy"), "record", "--pid", str(w.proc.pid), "--duration",
                                                str(int(profile_s)), "--rate", "200", "--format", "raw",
                                                "--output", str(profile_out), "--nonblocking", *(["--gil"] if os.environ.get("BENCH_PYSPY_GIL") else [])],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            except Exception:  # the work topic does not exist yet
                pass
        done_in = sum(min(committed.get(tp, 0), end) for tp, end in ends.items())
        if t_in is None and done_in >= sum(ends.values()):
            t_in = now - t0
            cpu_in = w.cpu_seconds()
            work_target = k.end_offsets([work])
        if t_in is not None:
            done_work = all(committed.get(tp, 0) >= end for tp, end in work_target.items())
            if done_work:
                t_all = now - t0
                cpu_all = w.cpu_seconds()
                break
        if now - last_report > 15:
            last_report = now
            say(f"    ... {now - t0:5.0f} s: {done_in}/{sum(ends.values())} input events committed")
        time.sleep(0.25)
    else:
        w.stop()
        raise RuntimeError(f"worker did not drain within {timeout} s")
    sys1 = system_cpu()
    # Decisions at the end of the event time wait for the idle partitions to let the clock
    # jump (RISK_EVENT_CLOCK_IDLE_SECONDS, 5 s): count warnings once none has come for 12 s,
    # so they compare with the in-memory engine's; the times above are not affected.
    warnings_topic = w.env["RISK_TOPICS__RISK_WARNINGS"]
    seen, stable_since, settle_deadline = -1, time.perf_counter(), time.perf_counter() + 120
    while time.perf_counter() < settle_deadline and time.perf_counter() - stable_since < 12:
        n = sum(k.end_offsets([warnings_topic]).values())
        if n != seen:
            seen, stable_since = n, time.perf_counter()
        time.sleep(0.5)
    mem = w.memory()
    late = w.late_events()
    if spy is not None:
        _, err = spy.communicate(timeout=profile_s + 60)
        if spy.returncode:
            say(f"    py-spy failed: {err.decode(errors='replace')[-500:]}")
    warnings_n = sum(k.end_offsets([w.env["RISK_TOPICS__RISK_WARNINGS"]]).values())
    dead_n = sum(k.end_offsets([w.env["RISK_TOPICS__DEAD_LETTERS"]]).values())
    busy = (sys1[0] - sys0[0]) / max(sys1[1] - sys0[1], 1) * (os.cpu_count() or 1)
    return {
        "events": total, "ready_s": ready, "first_event_s": first, "inputs_committed_s": t_in,
        "work_committed_s": t_all, "worker_cpu_s_inputs": cpu_in, "worker_cpu_s_all": cpu_all,
        "eps_from_start": total / t_in, "eps_from_first": total / (t_in - first) if first else None,
        "eps_pipeline_from_first": total / (t_all - first) if first else None,
        "machine_cores_busy": round(busy, 2), "warnings_published": warnings_n, "dead_letters": dead_n,
        "late_events": late, **mem,
    }


# ------------------------------------------------------------------ parts ----

LOADED: dict = {}  # what part_load knows about its events: the in-memory engine's warnings by rule


def warnings_by_rule(servers: str, topic: str) -> dict[str, int]:
    from collections import Counter

    from kafka import KafkaConsumer

    c = KafkaConsumer(topic, bootstrap_servers=servers, auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=5000)
    try:
        return dict(sorted(Counter(json.loads(r.value)["rule_id"] for r in c).items()))
    finally:
        c.close()


def part_load(k: Kafka, servers: str, n: int, seed: int) -> tuple[dict, dict[str, str], int]:
    topics = k.topics("tp")
    inputs = [topics[ROLE_FIELD[r]] for r in ROLES]
    k.create(list(topics.values()))
    span = max(n / 200000 * 6 * 3600, 3600)  # ~9 events/s of event time: a busy utility's day
    start = days_ago(3)  # a life cycle runs up to ~2 days past the span: none may end ahead of wall time
    g0 = time.perf_counter()
    events = mix(n, start, span, seed)
    records = [(topics[ROLE_FIELD[role]], key.encode(), encode(ev)) for _, role, key, ev in events]
    gen_s = time.perf_counter() - g0
    from schemas import parse_event

    for _, _, value in random.Random(seed).sample(records, min(5000, len(records))):
        parse_event(value)
    count, secs = asyncio.run(produce(servers, records))
    ends = k.end_offsets(inputs)
    assert sum(ends.values()) == count, (sum(ends.values()), count)
    by_role: dict[str, int] = {}
    for _, role, _, _ in events:
        by_role[role] = by_role.get(role, 0) + 1
    from collections import Counter

    from service.sim.engine_run import run_stream

    e0 = time.perf_counter()
    expected = Counter(w["rule_id"] for w in run_stream(events).warnings)
    LOADED["expected_by_rule"] = dict(sorted(expected.items()))
    LOADED["engine_s"] = round(time.perf_counter() - e0, 1)
    return ({"events": count, "generate_s": round(gen_s, 2), "load_s": round(secs, 2),
             "in_memory_engine_warnings": sum(expected.values()), "in_memory_engine_s": LOADED["engine_s"],
             "load_eps": round(count / secs), "mean_value_bytes": round(sum(len(r[2]) for r in records) / count),
             "mix": {r: round(c / count, 3) for r, c in by_role.items()}, "event_time_span_h": round(span / 3600, 1),
             "validated_sample": min(5000, len(records))}, topics, count)


async def _raw_drain(servers: str, inputs: list[str], total: int, group: str) -> dict:
    from aiokafka import AIOKafkaConsumer

    t0 = time.perf_counter()
    c = AIOKafkaConsumer(*inputs, bootstrap_servers=servers, group_id=group, auto_offset_reset="earliest",
                         enable_auto_commit=True, max_partition_fetch_bytes=4 * 1024 * 1024)
    await c.start()
    n, first = 0, None
    loads = json.loads
    try:
        while n < total:
            batches = await c.getmany(timeout_ms=1000, max_records=20000)
            for records in batches.values():
                if first is None:
                    first = time.perf_counter()
                for r in records:
                    loads(r.value)
                n += len(records)
            if time.perf_counter() - t0 > 600:
                raise RuntimeError(f"raw drain: {n}/{total} after 600 s")
        end = time.perf_counter()
    finally:
        await c.stop()
    return {"events": n, "s_from_start": round(end - t0, 2), "s_from_first": round(end - first, 2),
            "eps_from_start": round(n / (end - t0)), "eps_from_first": round(n / (end - first))}


def part_drain(servers: str, inputs: list[str], total: int, group: str) -> dict:
    cpu0 = time.process_time()
    r = asyncio.run(_raw_drain(servers, inputs, total, group))
    r["cpu_s"] = round(time.process_time() - cpu0, 2)
    return r


# Kafka records per input event of the mix, counted in the fourth round (docs/benchmarks.md, bench-564f0418):
# state changelog 1.36; sent and not read back: risk-warnings 0.23 + SMS 0.02; sent and read back by the
# worker itself: firing table 0.23 (a global table) + work topic 0.18 + notify topic 0.02.
# They go as the service sends them: straight to the producer (service/faust_fixes.py send_to, write_direct).
SERVICE_RECORDS = {"writes": 1.36, "sends": 0.25, "loop_sends": 0.43, "write_path": "direct", "send_path": "direct"}


def part_core(total: int, seed: int) -> dict:
    """(b''') bench.core_cost over the same mix (same size, same seed), in a fresh interpreter."""
    out = subprocess.run([PY, "-m", "bench.core_cost", "--events", str(total), "--seed", str(seed), "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=900, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    cpu = sum(r["seconds"].values())
    r["cpu_us_per_event"] = cpu / r["events"] * 1e6
    r["eps_one_core"] = r["events"] / cpu
    return r


def standing(report: dict, target: float = TARGET_EPS) -> list[str]:
    """Where (c) stands against `target`, next to each ceiling the run measured, fastest first.

    The ceilings are measured on the same machine in the same run: their ratios to each other and
    to the target carry over from machine to machine where absolute rates do not.
    """
    measured = [("(b) raw drain: aiokafka + json.loads", report.get("drain", {}).get("eps_from_first")),
                ("(b') Faust floor, Faust's consumer", report.get("floor", {}).get("eps_from_first")),
                ("(b') Faust floor, the service's consumer", report.get("floor_service", {}).get("eps_from_first")),
                ("(b'') design floor: the service's records, no rules",
                 report.get("floor_records", {}).get("eps_from_first")),
                ("(b''') the service's own code alone, one core, no Kafka", report.get("core", {}).get("eps_one_core")),
                ("(c) the service, whole pipeline", report.get("throughput", {}).get("eps_pipeline_from_first"))]
    rows = sorted(((name, eps) for name, eps in measured if eps), key=lambda row: -row[1])
    return [f"{name:56s} {eps:8.0f} events/s = x{eps / target:.2f} of {target:.0f}: "
            f"{'at or above' if eps >= target else 'below'}" for name, eps in rows]


def part_floor(servers: str, inputs: list[str], total: int, group: str, records: dict | None = None,
               consumer: str = "faust") -> dict:
    extra = [f"--{k.replace('_', '-')}={v}" for k, v in (records or {}).items()] + [f"--consumer={consumer}"]
    out = subprocess.run([PY, "-m", "bench.faust_floor", servers, group, str(total), *inputs, *extra], cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    # the Faust worker sends stdout through its logging: the line may come prefixed, on stderr
    found = re.findall(r'\{"events".*\}', out.stdout + out.stderr)
    if not found:
        raise RuntimeError(f"bench.faust_floor printed no result: {out.stderr[-2000:]}")
    r = json.loads(found[-1])
    r["eps_from_first"] = r["events"] / r["seconds"]
    r["cpu_us_per_event"] = r["cpu_s"] / r["events"] * 1e6
    return r


async def _latency(servers: str, topics: dict[str, str], rate: float, duration: float, eps: float,
                   seed: int) -> dict:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    warnings_topic = topics["risk_warnings"]
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=None, enable_auto_commit=False)
    await consumer.start()
    tps = [TopicPartition(warnings_topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:  # resolve the positions now: "latest" means before the first probe
        await consumer.position(tp)
    producer = AIOKafkaProducer(bootstrap_servers=servers, linger_ms=5, acks=1)
    await producer.start()
    background = mix(int(rate * duration * 1.05) + 1000, time.time(), duration, seed)
    sent_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}  # probe ticket -> when its first warning was read
    stop = asyncio.Event()

    async def read() -> None:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batches.values():
                for r in records:
                    w = json.loads(r.value)
                    tid = w.get("scope", {}).get("ticket_id", "")
                    # a probe's warning can be read before send_and_wait has returned its ack
                    if tid.startswith("PROBE-") and tid not in seen_at and w.get("rule_id") == "repair.arrival_overdue":
                        seen_at[tid] = now

    reader = asyncio.create_task(read())
    t0 = time.perf_counter()
    sent, probes, i = 0, 0, 0
    next_probe = t0
    while True:
        now = time.perf_counter()
        elapsed = now - t0
        if elapsed >= duration:
            break
        due = int(rate * elapsed)
        wall = time.time()
        while sent < due and i < len(background):
            _, role, key, ev = background[i]
            i += 1
            ev["occurred_at"] = iso(wall)  # live traffic: event time = now, order per key kept
            await producer.send(topics[ROLE_FIELD[role]], encode(ev), key=key.encode())
            sent += 1
        if now >= next_probe:
            probes += 1
            tid = f"PROBE-{probes}"
            probe = {"event_id": f"probe-{seed}-{probes}", "type": "ticket.created",
                     "occurred_at": iso(wall - 36 * 60 - eps), "ticket_id": tid, "district_id": "D000",
                     "area_type": "urban", "category": "no_power", "priority": "normal"}
            # iso() has whole seconds: round the backdating up so the deadline is at least eps behind
            await producer.send_and_wait(topics["repair_tickets"], encode(probe), key=tid.encode())
            sent_at[tid] = time.perf_counter()
            next_probe += 0.5
        await asyncio.sleep(0.005)
    offered_s = time.perf_counter() - t0
    await producer.flush()
    # wait for the last probes' warnings (up to 15 s)
    deadline = time.perf_counter() + 15
    while len(seen_at.keys() & sent_at.keys()) < len(sent_at) and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    stop.set()
    await reader
    await producer.stop()
    await consumer.stop()
    ended = time.perf_counter()
    # read before the ack came back: 0 (the bench once counted such a probe as never seen)
    latencies = {tid: max(seen_at[tid] - t, 0.0) for tid, t in sent_at.items() if tid in seen_at}
    lat = sorted(latencies.values())
    # a probe whose warning never came has a latency of at least (end of reading - sent): counting those
    # as lower bounds keeps an overloaded worker from looking fast (only the quick probes would be seen)
    bound = sorted([*lat, *(ended - t for tid, t in sent_at.items() if tid not in latencies)])
    q = lambda xs, p: xs[min(int(p * len(xs)), len(xs) - 1)] * 1000 if xs else None  # noqa: E731
    return {"offered_rate": rate, "duration_s": duration, "background_sent": sent,
            "achieved_rate": round(sent / offered_s), "probes": len(sent_at), "probe_warnings": len(lat),
            "p50_ms": q(lat, 0.50), "p90_ms": q(lat, 0.90), "p99_ms": q(lat, 0.99),
            "max_ms": lat[-1] * 1000 if lat else None, "mean_ms": statistics.fmean(lat) * 1000 if lat else None,
            "all_probes_p50_ms_at_least": q(bound, 0.50), "all_probes_p99_ms_at_least": q(bound, 0.99),
            # in the order sent (every 0.5 s), None for one never seen: shows whether the slow ones come together
            "probe_ms": [round(latencies[tid] * 1000) if tid in latencies else None for tid in sent_at]}


def part_latency(k: Kafka, servers: str, tag: str, tmp: Path, rate: float, duration: float, eps: float,
                 seed: int, groups: set) -> dict:
    topics = k.topics("lat")
    k.create(list(topics.values()))
    w = Worker(servers, f"{tag}-lat", topics, tmp, clock="wall")
    groups.add(w.app_id)
    w.start()
    try:
        ready = w.wait_ready()
        time.sleep(3)  # let the first ticks go round
        cpu0 = w.cpu_seconds()
        r = asyncio.run(_latency(servers, topics, rate, duration, eps, seed))
        r["worker_ready_s"] = round(ready, 1)
        r["worker_cpu_s"] = round(w.cpu_seconds() - cpu0, 1)
        r["warnings_published"] = sum(k.end_offsets([topics["risk_warnings"]]).values())
        r["dead_letters"] = sum(k.end_offsets([topics["dead_letters"]]).values())
        r.update(w.memory())
        return r
    finally:
        w.stop()


def part_memory(k: Kafka, servers: str, tag: str, tmp: Path, accounts: int, tickets: int, stores: list[str],
                timeout: float, groups: set) -> dict:
    topics = k.topics("mem")
    inputs = [topics[ROLE_FIELD[r]] for r in ROLES]
    k.create(list(topics.values()))
    start = time.time() - 86400
    records = ((topics[ROLE_FIELD[role]], key.encode(), encode(ev))
               for role, key, ev in memory_stream(accounts, tickets, start))
    count, secs = asyncio.run(produce(servers, records))
    out = {"accounts": accounts, "open_tickets": tickets, "events": count, "load_s": round(secs, 1)}
    for store in stores:
        scheme = f"{store}://"
        w = Worker(servers, f"{tag}-mem-{store}", {**topics, **{f: f"{topics[f]}-{store}" for f in OUTPUT_FIELDS}},
                   tmp, clock="event", store=scheme)
        k.create([w.env[f"RISK_TOPICS__{f.upper()}"] for f in OUTPUT_FIELDS])
        groups.add(w.app_id)
        say(f"  (e) {store}: worker consuming {count} events ...")
        try:
            r = drain_worker(k, w, inputs, count, timeout)
            time.sleep(5)  # the timers and the store settle; VmHWM is the peak anyway
            r.update(w.memory())
            out[store] = {key: r[key] for key in ("vmhwm_mib", "vmrss_mib", "inputs_committed_s", "work_committed_s",
                                                  "eps_from_first", "eps_pipeline_from_first", "worker_cpu_s_all")}
            say(f"      VmHWM {r['vmhwm_mib']:.0f} MiB, VmRSS {r['vmrss_mib']:.0f} MiB, "
                f"{r['eps_pipeline_from_first']:.0f} events/s")
        finally:
            w.stop()
        data = tmp / f"data-{w.app_id}"
        if data.exists():
            out[store]["data_dir_mib"] = round(sum(f.stat().st_size for f in data.rglob("*") if f.is_file()) / 2**20, 1)
    return out


# ------------------------------------------------------------------- main ----

def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench.run", description=__doc__.split("\n")[0])
    p.add_argument("--parts", default=",".join(PARTS))
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--rate", type=float, default=2000.0, help="(d) offered background events/s")
    p.add_argument("--duration", type=float, default=60.0, help="(d) seconds of offered load")
    p.add_argument("--probe-eps", type=float, default=5.0,
                   help="(d) probe backdated 36 min + this many seconds (> tick interval: due at once)")
    p.add_argument("--accounts", type=int, default=1_000_000)
    p.add_argument("--open-tickets", type=int, default=100_000)
    p.add_argument("--stores", default="memory,rocksdb")
    p.add_argument("--timeout", type=float, default=1800, help="max seconds for one worker to drain")
    p.add_argument("--profile", type=float, default=0, help="py-spy the (c) worker for this many seconds")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--worker-env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment for every worker, e.g. PRODUCER_LINGER=0.01 (Faust settings read "
                        "from the environment) to try a setting without changing service/")
    p.add_argument("--baseline", type=Path, default=None, metavar="CHECKOUT",
                   help="(c) again with the service of another checkout (e.g. a git worktree of an older commit) "
                        "on the same topics, right after, and the ratio of the two")
    p.add_argument("--baseline-env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment for the baseline worker only")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="with --baseline: N runs of each checkout, alternating AB BA AB ... on the same topics; "
                        "the ratios are of geometric means")
    p.add_argument("--quick", action="store_true", help="smoke test: 20k events, 10 s latency, 20k accounts")
    p.add_argument("--keep", action="store_true", help="do not delete the topics")
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)
    if a.quick:
        a.events, a.duration, a.accounts, a.open_tickets = 20_000, 10.0, 20_000, 2_000
    parts = set(a.parts.split(","))
    WORKER_ENV.update(kv.split("=", 1) for kv in a.worker_env)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    tag = f"bench-{uuid.uuid4().hex[:8]}"
    servers = bootstrap()
    tmp = Path(tempfile.mkdtemp(prefix=f"{tag}-"))
    json_path = a.json or tmp / "report.json"
    report: dict = {"tag": tag, "started": iso(time.time()), "machine": machine(), "args": vars(a) | {"json": str(json_path)}}
    m = report["machine"]
    say(f"bench {tag}: {m['nproc']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, Python {m['python']}, "
        f"faust-streaming {m['faust']}, aiokafka {m['aiokafka']}; broker {servers}; logs in {tmp}")
    k = Kafka(servers, tag)
    groups: set[str] = set()
    try:
        if parts & {"load", "drain", "floor", "floor-service", "floor-records", "throughput"}:
            say(f"(a) load: {a.events} events of the mix into 4 fresh input topics x {PARTITIONS} partitions")
            r, topics, total = part_load(k, servers, a.events, a.seed)
            report["load"] = r
            inputs = [topics[ROLE_FIELD[x]] for x in ROLES]
            say(f"    {r['events']} events ({r['mean_value_bytes']} B mean) in {r['load_s']} s = {r['load_eps']} events/s "
                f"(aiokafka producer, acks=1, linger 20 ms); mix {r['mix']}; generated in {r['generate_s']} s, "
                f"{r['validated_sample']} validated with schemas.parse_event")
            if "drain" in parts:
                group = f"{tag}-raw"
                groups.add(group)
                r = report["drain"] = part_drain(servers, inputs, total, group)
                say(f"(b) raw drain (aiokafka group consumer + json.loads): {r['eps_from_start']} events/s from "
                    f"start ({r['s_from_start']} s), {r['eps_from_first']} events/s from the first record; "
                    f"{r['cpu_s']} CPU s")
            if "floor" in parts:
                group = f"{tag}-floor"
                groups.add(group)
                r = report["floor"] = part_floor(servers, inputs, total, group)
                raw = report.get("drain", {}).get("eps_from_first")
                say(f"(b') Faust floor (one agent, take_events, json.loads, nothing else): {r['eps_from_first']:.0f} "
                    f"events/s from the first record, {r['cpu_us_per_event']:.0f} us CPU/event"
                    + (f"; ratio to raw drain {r['eps_from_first'] / raw:.4f}" if raw else ""))
            if "floor-service" in parts:
                group = f"{tag}-floor-service"
                groups.add(group)
                r = report["floor_service"] = part_floor(servers, inputs, total, group, consumer="service")
                raw = report.get("drain", {}).get("eps_from_first")
                say(f"(b') Faust floor, the service's consumer: {r['eps_from_first']:.0f} events/s from the first "
                    f"record, {r['cpu_us_per_event']:.0f} us CPU/event"
                    + (f"; ratio to raw drain {r['eps_from_first'] / raw:.4f}" if raw else ""))
            if "floor-records" in parts:
                group = f"{tag}-floor-records"
                groups.add(group)
                r = report["floor_records"] = part_floor(servers, inputs, total, group, SERVICE_RECORDS,
                                                         consumer="service")
                r["records_per_event"] = SERVICE_RECORDS
                raw = report.get("drain", {}).get("eps_from_first")
                say(f"(b'') Faust floor with the service's Kafka records and no rules ({SERVICE_RECORDS} per event): "
                    f"{r['eps_from_first']:.0f} events/s from the first record, {r['cpu_us_per_event']:.0f} us "
                    f"CPU/event" + (f"; ratio to raw drain {r['eps_from_first'] / raw:.4f}" if raw else ""))
            runs = [("tp", ROOT, {})]
            if a.baseline:
                base = ("tp-base", a.baseline.resolve(), dict(kv.split("=", 1) for kv in a.baseline_env))
                # ABBA...: the run order favours one position by 15-50 % on this machine, so each
                # checkout runs first as often as second
                current = runs[0]
                runs = [run for i in range(a.repeat) for run in ((current, base) if i % 2 == 0 else (base, current))]
                runs = [(name if i < 2 else f"{name}-{i // 2}", root, extra) for i, (name, root, extra) in enumerate(runs)]
            repeats: list[dict] = []
            for name, root, extra in runs if "throughput" in parts else []:
                # inputs shared, outputs its own: two runs on one warnings topic count each other's
                own = topics if name == "tp" else {**topics, **{f: f"{topics[f]}-{name}" for f in OUTPUT_FIELDS}}
                w = Worker(servers, f"{tag}-{name}", own, tmp, clock="event", root=root, extra=extra)
                if own is not topics:
                    k.create([own[f] for f in OUTPUT_FIELDS])
                groups.add(w.app_id)
                say(f"(c) service throughput: python -m service worker of {root}"
                    f"{' with ' + str(extra) if extra else ''}, RISK_CLOCK=event, all rules on ...")
                prof = tmp / f"pyspy-{name}.raw" if a.profile else None
                try:
                    r = drain_worker(k, w, inputs, total, a.timeout, a.profile, prof)
                finally:
                    w.stop()
                if prof is not None and prof.exists():
                    r["profile_raw"] = str(prof)
                r["checkout"] = str(root)
                if name in ("tp", "tp-base"):
                    report["throughput" if name == "tp" else "throughput_baseline"] = r
                repeats.append({"run": name, "checkout": str(root), "baseline": name.startswith("tp-base"),
                                "eps_pipeline_from_first": r["eps_pipeline_from_first"],
                                "cpu_us_per_event": r["worker_cpu_s_all"] / total * 1e6})
                raw = report.get("drain", {}).get("eps_from_first")
                say(f"    ready after {r['ready_s']:.1f} s, first event at {r['first_event_s']:.1f} s, inputs committed at "
                    f"{r['inputs_committed_s']:.1f} s, work topic committed at {r['work_committed_s']:.1f} s")
                say(f"    {r['eps_from_start']:.0f} events/s from process start, {r['eps_from_first']:.0f} from the first "
                    f"event (inputs), {r['eps_pipeline_from_first']:.0f} through the whole pipeline"
                    + (f"; ratio to raw drain {r['eps_from_first'] / raw:.4f} (inputs), "
                       f"{r['eps_pipeline_from_first'] / raw:.4f} (pipeline)" if raw else ""))
                say(f"    worker CPU {r['worker_cpu_s_all']:.1f} s ({r['worker_cpu_s_all'] / total * 1e6:.0f} us/event), "
                    f"machine {r['machine_cores_busy']} of {m['nproc']} cores busy; {r['warnings_published']} warnings, "
                    f"{r['dead_letters']} dead letters; VmHWM {r['vmhwm_mib']:.0f} MiB")
                if raw:
                    r["ratio_to_raw_inputs"] = r["eps_from_first"] / raw
                    r["ratio_to_raw_pipeline"] = r["eps_pipeline_from_first"] / raw
                # the same events through the in-memory engine in event-time order: what a correct run publishes
                got = r["warnings_by_rule"] = warnings_by_rule(servers, w.env["RISK_TOPICS__RISK_WARNINGS"])
                want = LOADED.get("expected_by_rule", {})
                diff = {rule: got.get(rule, 0) - want.get(rule, 0) for rule in sorted(set(got) | set(want))
                        if got.get(rule, 0) != want.get(rule, 0)}
                r["warnings_minus_in_memory_by_rule"] = diff
                say(f"    warnings {sum(got.values())} vs {sum(want.values())} from the in-memory engine on the same "
                    f"events; difference by rule: {diff or 'none'}; late events {r['late_events'] or 'none'}")
            if "throughput_baseline" in report:
                cur, base = report["throughput"], report["throughput_baseline"]

                def ratio(field: str) -> float:  # geometric means over the runs of each checkout
                    mine = [math.log(x[field]) for x in repeats if not x["baseline"]]
                    theirs = [math.log(x[field]) for x in repeats if x["baseline"]]
                    return math.exp(sum(mine) / len(mine) - sum(theirs) / len(theirs))

                report["repeats"] = repeats
                report["vs_baseline"] = {
                    "pipeline_eps_ratio": ratio("eps_pipeline_from_first"),
                    "cpu_per_event_ratio": ratio("cpu_us_per_event"),
                    "runs_each": a.repeat,
                    "warnings": [cur["warnings_published"], base["warnings_published"]],
                }
                for x in repeats:
                    say(f"    {x['run']:12s} {x['checkout']}: {x['eps_pipeline_from_first']:.0f} events/s through the "
                        f"pipeline, {x['cpu_us_per_event']:.0f} us CPU/event")
                say(f"    vs baseline ({a.repeat} run{'s' if a.repeat > 1 else ''} each, geometric means): pipeline "
                    f"events/s x{report['vs_baseline']['pipeline_eps_ratio']:.2f}, "
                    f"CPU per event x{report['vs_baseline']['cpu_per_event_ratio']:.2f}; warnings "
                    f"{cur['warnings_published']} vs {base['warnings_published']}")
        if "core" in parts:
            r = report["core"] = part_core(a.events, a.seed)
            steps = ", ".join(f"{name} {secs / r['events'] * 1e6:.0f}" for name, secs in r["seconds"].items())
            say(f"(b''') the service's own code alone (bench.core_cost, {r['events']} events, no Kafka): "
                f"{r['cpu_us_per_event']:.0f} us/event = {r['eps_one_core']:.0f} events/s on one core ({steps} us)")
        if parts & {"throughput", "floor", "floor-service", "floor-records", "core"}:
            say(f"where {TARGET_EPS} events/s stands, next to what this run measured:")
            for line in standing(report):
                say(f"    {line}")
        if "latency" in parts:
            say(f"(d) latency: worker RISK_CLOCK=wall, {a.rate:.0f} events/s offered for {a.duration:.0f} s, "
                f"probe every 0.5 s backdated 36 min + {a.probe_eps:g} s ...")
            r = report["latency"] = part_latency(k, servers, tag, tmp, a.rate, a.duration, a.probe_eps, a.seed, groups)
            fmt = lambda v: "n/a" if v is None else f"{v:.0f} ms"  # noqa: E731
            say(f"    achieved {r['achieved_rate']} events/s; {r['probe_warnings']}/{r['probes']} probe warnings; "
                f"p50 {fmt(r['p50_ms'])}, p99 {fmt(r['p99_ms'])}, max {fmt(r['max_ms'])} of those seen"
                + ("" if r["probe_warnings"] == r["probes"] else
                   f" (all probes, unseen counted as lower bounds: p50 >= {fmt(r['all_probes_p50_ms_at_least'])}, "
                   f"p99 >= {fmt(r['all_probes_p99_ms_at_least'])})")
                + "; worker CPU "
                f"{r['worker_cpu_s']} s over {a.duration:.0f} s; {r['warnings_published']} warnings in all")
        if "memory" in parts:
            say(f"(e) memory: {a.accounts} accounts + {a.open_tickets} open tickets, stores {a.stores}")
            report["memory"] = part_memory(k, servers, tag, tmp, a.accounts, a.open_tickets, a.stores.split(","),
                                           a.timeout, groups)
    finally:
        finish(k, groups, tag, a.keep, report, json_path)
    return 0


def finish(k: Kafka, groups: set[str], tag: str, keep: bool, report: dict, json_path: Path) -> None:
    """Delete the run's topics (unless kept), close the clients, write the JSON report."""
    if not keep:
        deleted = k.cleanup(groups)
        say(f"cleanup: deleted {len(deleted)} topics tagged {tag}")
    k.close()
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2, default=str))
    say(f"report: {json_path}")


if __name__ == "__main__":
    sys.exit(main())
