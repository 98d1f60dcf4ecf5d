"""What an idle worker writes to Kafka: records per second, per internal topic.

    python -m bench.idle_records [--partitions 8,32] [--clock wall,event] [--seconds 30] [--checkout PATH]

For each partition count and clock mode: a fresh app id and topics (input topics with
that many partitions, nothing produced), one `python -m service worker` from this
checkout or --checkout, ready, then the end offsets of every topic of the app (work,
notify, changelogs) read twice, --seconds apart, after a settling period. An idle
worker should write next to nothing; what it writes is what a quiet cluster keeps for
the topics' retention. Prints one line per run and a JSON report (--json).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from .run import ROOT, Kafka, Worker, bootstrap


def topics_of(k: Kafka, app_id: str) -> list[str]:
    return sorted(t for t in k.admin.list_topics() if t.startswith(app_id))


def end_offsets(k: Kafka, names: list[str]) -> dict[str, int]:
    from kafka import TopicPartition

    out: dict[str, int] = {}
    for name in names:
        parts = k.meta.partitions_for_topic(name) or set()
        ends = k.meta.end_offsets([TopicPartition(name, p) for p in parts])
        out[name] = sum(ends.values())
    return out


def measure(servers: str, partitions: int, clock: str, seconds: float, settle: float, root: Path) -> dict:
    from kafka.admin import NewTopic

    tag = f"idle-{uuid.uuid4().hex[:6]}"
    k = Kafka(servers, tag)
    names = k.topics("t")
    k.admin.create_topics([NewTopic(names[f], num_partitions=partitions, replication_factor=1)
                           for f in ("outage_events", "repair_tickets", "billing_events", "service_events")])
    app_id = f"{tag}-app"
    with tempfile.TemporaryDirectory() as tmp:
        w = Worker(servers, app_id, names, Path(tmp), clock, root=root,
                   extra={"RISK_PARTITIONS": str(partitions)})
        w.start()
        try:
            w.wait_ready(180)
            time.sleep(settle)
            internal = topics_of(k, app_id)
            k.meta.topics()  # refresh metadata for the internal topics
            before, t0 = end_offsets(k, internal), time.time()
            time.sleep(seconds)
            after, t1 = end_offsets(k, internal), time.time()
        finally:
            w.proc.terminate()
            w.proc.wait(60)
    per_topic = {t[len(app_id) + 1:]: round((after[t] - before.get(t, 0)) / (t1 - t0), 2) for t in after}
    k.cleanup([app_id])
    k.close()
    return {"partitions": partitions, "clock": clock, "seconds": round(t1 - t0, 1),
            "records_per_s": round(sum(per_topic.values()), 2),
            "per_topic": {t: r for t, r in per_topic.items() if r}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--partitions", default="8,32")
    p.add_argument("--clock", default="wall,event")
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--settle", type=float, default=10.0, help="seconds after ready before measuring")
    p.add_argument("--checkout", type=Path, default=ROOT, help="the worker's code: this checkout or another")
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    servers = bootstrap()
    print(f"idle worker from {a.checkout}, broker {servers}: records written per second, after "
          f"{a.settle:g} s of settling, over {a.seconds:g} s", flush=True)
    runs = []
    for n in (int(x) for x in a.partitions.split(",")):
        for clock in a.clock.split(","):
            r = measure(servers, n, clock, a.seconds, a.settle, a.checkout)
            runs.append(r)
            print(f"  {n:>3} partitions, {clock:<5} clock: {r['records_per_s']:8.2f} records/s  {r['per_topic']}",
                  flush=True)
    if a.json:
        a.json.write_text(json.dumps({"checkout": str(a.checkout), "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
