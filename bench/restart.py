"""Benchmark: how long a worker takes to be ready again after a clean stop, memory:// vs rocksdb://.

    .venv/bin/python -m bench.restart                          # 45 000 accounts + 5 000 open tickets
    .venv/bin/python -m bench.restart --accounts 450000 --open-tickets 50000 --repeats 3

One state, three ways back to it. The memory workload of bench/run.py (N accounts with one bill
each, M open tickets, all in a 20-minute event-time span so no deadline falls due) is produced
into fresh topics and drained by one worker (RISK_STORE=memory://) until its group has committed
every input and its work topic; it is then stopped with SIGTERM. Then, all with the same app id,
so the same changelog topics and consumer group (nothing left to consume, only state to recover):

  memory://          started again: every store is rebuilt from the whole changelog
  rocksdb:// cold    a fresh data dir (a new host, a pod without its volume): the whole changelog
                     is written into RocksDB
  rocksdb:// warm    started again on that data dir: RocksDB keeps the changelog offsets it has
                     applied, so only the tail since is read

Each restart is timed from the process start (Popen) to the first "[^Worker]: Ready" in its log,
polled every 0.2 s: partitions assigned and tables recovered. The split in the report reads the
worker's own log timestamps: Python start and imports up to its first log line, then Faust start
until Ready. --repeats restarts per mode (default 2), each stopped with SIGTERM; all are printed,
the median is the result. The broker is KAFKA_BOOTSTRAP or deploy/kafka.sh start, as in bench/run.py.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from bench.mix import ROLES, encode, iso, memory_stream
from bench.run import ROLE_FIELD, Kafka, Worker, bootstrap, drain_worker, finish, machine, produce, say

LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")


def log_times(text: str) -> tuple[float | None, float | None]:
    """(first log line, first "[^Worker]: Ready") as epoch seconds, from the worker's own timestamps."""
    first = ready = None
    for line in text.splitlines():
        m = LOG_TIME.match(line)
        if not m:
            continue
        t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        first = first if first is not None else t
        if "[^Worker]: Ready" in line:
            ready = t
            break
    return first, ready


def restart(servers: str, app_id: str, topics: dict[str, str], tmp: Path, store: str, data: Path,
            label: str) -> dict:
    """Start a worker on existing state; seconds to Ready, then stop it cleanly."""
    w = Worker(servers, app_id, topics, tmp, clock="event", store=store,
               extra={"RISK_DATA_DIR": str(data)})
    w.log_path = tmp / f"{app_id}-{label}.log"  # one log per start, so Ready is this start's
    spawned = time.time()
    w.start()
    try:
        ready_s = w.wait_ready(timeout=900)
        first, ready = log_times(w.log())
        out = {"ready_s": round(ready_s, 2)}
        if first is not None and ready is not None:
            out.update(python_start_s=round(first - spawned, 2), faust_to_ready_s=round(ready - first, 2))
        out.update(w.memory())
        return out
    finally:
        w.stop()


def dir_mib(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1) if path.exists() else 0.0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench.restart", description=__doc__.split("\n")[0])
    p.add_argument("--accounts", type=int, default=45_000)
    p.add_argument("--open-tickets", type=int, default=5_000)
    p.add_argument("--repeats", type=int, default=2, help="restarts per mode")
    p.add_argument("--timeout", type=float, default=1800, help="max seconds for the first worker to drain")
    p.add_argument("--keep", action="store_true", help="do not delete the topics")
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.ERROR)  # kafka-python's slow-poll warnings from the helpers

    tag = f"bench-{uuid.uuid4().hex[:8]}"
    servers = bootstrap()
    tmp = Path(tempfile.mkdtemp(prefix=f"{tag}-"))
    json_path = a.json or tmp / "restart.json"
    m = machine()
    report: dict = {"tag": tag, "started": iso(time.time()), "machine": m, "args": vars(a) | {"json": str(json_path)}}
    say(f"bench.restart {tag}: {m['nproc']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, Python {m['python']}, "
        f"faust-streaming {m['faust']}; broker {servers}; logs in {tmp}")
    k = Kafka(servers, tag)
    app_id = f"{tag}-restart"
    try:
        topics = k.topics("rs")
        inputs = [topics[ROLE_FIELD[r]] for r in ROLES]
        k.create(list(topics.values()))
        start = time.time() - 86400
        records = ((topics[ROLE_FIELD[role]], key.encode(), encode(ev))
                   for role, key, ev in memory_stream(a.accounts, a.open_tickets, start))
        count, secs = asyncio.run(produce(servers, records))
        say(f"load: {count} events ({a.accounts} accounts with one bill, {a.open_tickets} open tickets) "
            f"in {secs:.1f} s")

        w = Worker(servers, app_id, topics, tmp, clock="event", store="memory://",
                   extra={"RISK_DATA_DIR": str(tmp / "data-memory")})
        say("state: one memory:// worker drains them (inputs and work topic committed) ...")
        try:
            r = drain_worker(k, w, inputs, count, a.timeout)
            time.sleep(3)  # the last changelog writes and commits
        finally:
            w.stop()
        changelogs = [t for t in k.admin.list_topics() if t.startswith(app_id) and t.endswith("-changelog")]
        records_by_table = {t[len(app_id) + 1:-len("-changelog")]: sum(k.end_offsets([t]).values())
                            for t in changelogs}
        report["state"] = {"events": count, "drain_s": round(r["work_committed_s"], 1),
                           "changelog_records": records_by_table}
        say(f"       drained in {r['work_committed_s']:.0f} s; changelog records {records_by_table}")

        modes = {}
        runs = [("memory://", "memory", tmp / "data-memory", [f"memory-{i + 1}" for i in range(a.repeats)]),
                ("rocksdb://", "rocksdb-cold", tmp / "data-rocksdb", ["rocksdb-cold"]),
                ("rocksdb://", "rocksdb-warm", tmp / "data-rocksdb", [f"rocksdb-warm-{i + 1}" for i in range(a.repeats)])]
        for store, mode, data, labels in runs:
            results = []
            for label in labels:
                res = restart(servers, app_id, topics, tmp, store, data, label)
                results.append(res)
                say(f"  {label:15s} ready after {res['ready_s']:6.2f} s (python start "
                    f"{res.get('python_start_s', float('nan')):.2f} s, then {res.get('faust_to_ready_s', float('nan')):.2f} s "
                    f"to Ready); VmHWM {res['vmhwm_mib']:.0f} MiB")
            modes[mode] = {"runs": results, "median_ready_s": round(statistics.median(x["ready_s"] for x in results), 2)}
        modes["rocksdb-warm"]["data_dir_mib"] = dir_mib(tmp / "data-rocksdb")
        report["restart"] = modes
        say("median seconds from process start to Ready: " + ", ".join(
            f"{mode} {v['median_ready_s']:.1f}" for mode, v in modes.items())
            + f"; RocksDB data dir {modes['rocksdb-warm']['data_dir_mib']} MiB")
    finally:
        finish(k, {app_id}, tag, a.keep, report, json_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
