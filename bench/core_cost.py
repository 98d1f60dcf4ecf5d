"""CPU cost per event of the service's own Python work, without Kafka or Faust.

    .venv/bin/python -m bench.core_cost [--events 50000] [--seed 1] [--json]

Runs the benchmark mix (bench/mix.py) through the steps the worker does for each
input event, in one process, timing each step: schemas.read_event (the message
value to the event body and its time, as the worker's ingest does), routes, Engine.on_event with the state kept in a dict,
the state value's JSON encode (the changelog write; orjson, as Faust uses when
installed), and the same for every event the subject derives for another
(a ticket's arrival for its district), which the worker sends through the
work topic (its value JSON encode/decode counted too). The sum is what the service code
costs; the worker's measured CPU per event (bench.run (c)) minus this is what
Faust, aiokafka and the broker round trips cost. `--json` prints one JSON line
instead (bench.run's part "core").

Each event is judged at its own time unless `--lag-events K`: then the
clock an event is judged at is the latest event time among the events read
K before it, as a worker draining a backlog judges on a clock held back by
its slowest partition and by the batch in hand. Window ends then come due a
few at a time and more events land after the clock, which is the worker's
case (the shortcuts that skip ends due together help less). `--rules FILE`
overlays a rules file as RISK_RULES_FILE does (e.g. one that leaves only the
Quix Streams peer's five rules on).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import orjson

from bench.mix import days_ago, encode, mix

NEVER = float("-inf")  # the clock before the first event it may follow


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=1, help="the mix's seed (bench.run --seed: the same events)")
    p.add_argument("--json", action="store_true", help="one JSON line: events, state updates, seconds by step")
    p.add_argument("--lag-events", type=int, default=0, metavar="K",
                   help="judge each event at the latest time of the events read K before it (0: its own time)")
    p.add_argument("--rules", type=Path, default=None, metavar="FILE",
                   help="a rules file overlaid on the shipped rules, as RISK_RULES_FILE")
    a = p.parse_args(argv)
    r = measure(a.events, a.seed, lag_events=a.lag_events, rules=a.rules)
    if a.json:
        print(json.dumps(r))
        return 0
    n, total = r["events"], sum(r["seconds"].values())
    clock = f"clock {a.lag_events} events behind" if a.lag_events else "each judged at its own time"
    print(f"{n} input events ({r['state_updates']} state updates; {clock}; rules: {a.rules or 'shipped'}) "
          "through the service's own code, no Kafka, no Faust:")
    for name, secs in r["seconds"].items():
        print(f"  {secs / n * 1e6:7.1f} us/event  {name}")
    print(f"  {total / n * 1e6:7.1f} us/event  total  (= {n / total:,.0f} events/s on one core)")
    print(f"  state values: {r['state_keys']} keys, median {r['state_median_bytes']} B, p99 {r['state_p99_bytes']} B "
          "of JSON")
    return 0


def measure(n_events: int, seed: int = 1, lag_events: int = 0, rules: Path | None = None) -> dict:
    """The mix's events through the worker's steps, in one process; seconds spent in each step."""
    from schemas import read_event
    from service.config import DEFAULT_RULES, load_rulebook
    from service.core.engine import Engine
    from service.core.subjects import routes

    events = mix(n_events, days_ago(2), max(n_events / 200000 * 6 * 3600, 3600), seed)
    raws = [encode(ev) for _, _, _, ev in events]
    engine = Engine(load_rulebook(rules or DEFAULT_RULES))
    clock = NEVER
    read_times: list[float] = []  # event times in reading order (for --lag-events)
    state: dict[str, dict] = {}
    cost = dict.fromkeys(["read_event", "routes", "work value json (derived)", "engine.on_event",
                          "state json (changelog)"], 0.0)
    pc = time.perf_counter
    applied = warnings = 0
    for i, raw in enumerate(raws):
        t0 = pc()
        body, ts = read_event(raw)
        t2 = pc()
        if lag_events:
            read_times.append(ts)
            if i >= lag_events:
                clock = max(clock, read_times[i - lag_events])
        keys = [key for key in routes(body) if engine.reaches(key, body["type"])]  # as Shell.on_input
        t3 = pc()
        cost["read_event"] += t2 - t0
        cost["routes"] += t3 - t2
        todo = [(key, body, ts, False) for key in keys]
        while todo:
            key, ev, ets, hop = todo.pop()
            t4 = pc()
            if hop:  # a derived event crosses the work topic
                value = orjson.loads(orjson.dumps({"kind": "event", "ts": ets, "event": ev}))
                ev, ets = value["event"], value["ts"]
            t5 = pc()
            result = engine.on_event(key, state.get(key), ev, ets, clock if lag_events else ets)
            t6 = pc()
            warnings += len(result.warnings)
            if result.state is not None:
                state[key] = result.state
                orjson.dumps(result.state)
            t7 = pc()
            cost["work value json (derived)"] += t5 - t4
            cost["engine.on_event"] += t6 - t5
            cost["state json (changelog)"] += t7 - t6
            todo += [(target, d, d["ts"], True) for target, d in result.derived]
            applied += 1
    sizes = sorted(len(orjson.dumps(v)) for v in state.values())
    return {"events": len(raws), "state_updates": applied, "warnings": warnings, "seconds": cost, "state_keys": len(sizes),
            "state_median_bytes": sizes[len(sizes) // 2], "state_p99_bytes": sizes[int(len(sizes) * .99)]}


if __name__ == "__main__":
    sys.exit(main())
