"""`sim` commands: simulate, produce, replay-bchydro, replay-purdue, replay-oe417, quality, evaluate.

    simulate --scenario storm --seed 7 --out-events ev.jsonl --out-truth truth.json
    produce --events ev.jsonl [--speed 600 | --fast]
    replay-bchydro [--file PATH] [--speed N | --fast] [--limit N]
    replay-purdue [--file PATH] [--fast]
    replay-oe417 [--file PATH] [--fast]
    quality --truth truth.json --warnings warnings.jsonl --out-json q.json --out-png q.png
    evaluate --scenario storm [--seed 7] [--out-json q.json] [--out-png q.png] [--out-warnings w.jsonl]

Kafka settings (bootstrap, topic names) come from the service configuration
(RISK_* environment), so `produce` writes where the worker reads.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from .scenarios import SCENARIOS, build, read_events

ROLE_TOPIC = {"outages": "outage_events", "tickets": "repair_tickets", "billing": "billing_events",
              "service": "service_events"}


def _progress(i: int, n: int, what: str, started: float) -> None:
    if i % 500 == 0 or i == n:
        rate = i / max(time.monotonic() - started, 1e-9)
        print(f"\r  {what}: {i}/{n} ({rate:,.0f}/s)", end="" if i < n else "\n", file=sys.stderr, flush=True)


def produce_stream(stream, speed: float | None, bootstrap: str | None = None, topics=None) -> int:
    """Send (ts, role, key, event) to the input topics; speed None: as fast as possible,
    else `speed` event-time seconds per wall second, starting at the first event."""
    from kafka import KafkaProducer

    from ..config import load_settings

    settings = load_settings()
    topics = topics or settings.topics
    producer = KafkaProducer(bootstrap_servers=(bootstrap or settings.kafka_bootstrap).split(","), linger_ms=5,
                             **settings.kafka_security.client_options())
    wall0, t0, n = time.time(), (stream[0][0] if stream else 0.0), len(stream)
    started = time.monotonic()
    for i, (ts, role, key, event) in enumerate(stream, 1):
        if speed:
            delay = wall0 + (ts - t0) / speed - time.time()
            if delay > 0:
                producer.flush()
                time.sleep(delay)
        producer.send(getattr(topics, ROLE_TOPIC[role]), key=key.encode(), value=json.dumps(event).encode())
        _progress(i, n, "produced", started)
    producer.flush()
    producer.close()
    return n


def _speed(args) -> float | None:
    return None if args.fast else args.speed


def cmd_simulate(args) -> int:
    sc = build(args.scenario, args.seed)
    sc.write(args.out_events, args.out_truth)
    print(f"{sc.name} seed {sc.seed}: {len(sc.stream)} events, {len(sc.truth)} expected warnings, "
          f"quiet districts {', '.join(sc.quiet) or '-'}")
    return 0


def cmd_produce(args) -> int:
    n = produce_stream(read_events(args.events), _speed(args), args.bootstrap)
    print(f"produced {n} events")
    return 0


def _replay(args, loader) -> int:
    replay = loader(args.file) if args.file else loader()
    stream = replay.stream[: args.limit] if args.limit else replay.stream
    print("mapped: " + ", ".join(f"{k} {v}" for k, v in sorted(replay.stats.items())), file=sys.stderr)
    if args.out_events:
        with open(args.out_events, "w") as f:
            for ts, role, key, event in stream:
                f.write(json.dumps({"ts": ts, "role": role, "key": key, "event": event}) + "\n")
        print(f"wrote {len(stream)} events to {args.out_events}")
        return 0
    n = produce_stream(stream, _speed(args), args.bootstrap)
    print(f"produced {n} events")
    return 0


def cmd_replay_bchydro(args) -> int:
    from .replay import bchydro

    return _replay(args, bchydro)


def cmd_replay_purdue(args) -> int:
    from .replay import purdue

    return _replay(args, purdue)


def cmd_replay_oe417(args) -> int:
    from .replay import OE417_FILE, OE417_SAMPLE, ORIGINS, oe417

    if not args.file and not OE417_FILE.is_file():
        print(f"{OE417_FILE} not found: replaying the sample shipped with the repository, {OE417_SAMPLE} "
              f"(2021 only). The full data: {ORIGINS[OE417_FILE.name]}", file=sys.stderr)
        args.file = str(OE417_SAMPLE)
    return _replay(args, oe417)


def _read_warnings(path: str) -> list[dict]:
    with open(path) as f:
        text = f.read().strip()
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _report(truth: dict, warnings: list[dict], out_json: str | None, out_png: str | None) -> dict:
    from . import quality

    report = quality.evaluate(truth, warnings)
    print(quality.table(report))
    if out_json:
        quality.save_json(report, out_json)
        print(f"wrote {out_json}")
    if out_png:
        quality.plot(truth, warnings, out_png, title=f"{truth.get('scenario') or 'warnings'}: warnings over time")
        print(f"wrote {out_png}")
    return report


def cmd_quality(args) -> int:
    with open(args.truth) as f:
        truth = json.load(f)
    _report(truth, _read_warnings(args.warnings), args.out_json, args.out_png)
    return 0


def cmd_evaluate(args) -> int:
    from .engine_run import run_stream

    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    worst = 1.0
    for name in names:
        sc = build(name, args.seed)
        print(f"== {name} (seed {args.seed}): {sc.description}; {len(sc.stream)} events", file=sys.stderr)
        run = run_stream(sc.stream, sc.reference, until=sc.end, progress=True)
        if args.out_warnings:
            with open(args.out_warnings, "w") as f:
                for w in run.warnings:
                    f.write(json.dumps(w, ensure_ascii=False) + "\n")
        suffix = (lambda p: p) if len(names) == 1 else (lambda p: p.replace(".", f".{name}.", 1) if p else p)
        report = _report(sc.truth_document(), run.warnings, suffix(args.out_json), suffix(args.out_png))
        recall = report["overall"]["recall"]
        worst = min(worst, 1.0 if recall is None else recall)
    return 0 if worst == 1.0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="risk-warnings sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    s = sub.add_parser("simulate", help="generate a scenario's events and ground truth")
    s.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--out-events", required=True)
    s.add_argument("--out-truth", required=True)
    s.set_defaults(func=cmd_simulate)

    def kafka_opts(p, speed_default: float | None = 600.0):
        p.add_argument("--speed", type=float, default=speed_default,
                       help="event-time seconds per wall second (1 = real time)")
        p.add_argument("--fast", action="store_true", help="as fast as possible")
        p.add_argument("--bootstrap", default=None, help="Kafka bootstrap servers (default: the service's)")

    p = sub.add_parser("produce", help="send a simulated event file to Kafka")
    p.add_argument("--events", required=True)
    kafka_opts(p)
    p.set_defaults(func=cmd_produce)

    for name, func, what in (("replay-bchydro", cmd_replay_bchydro, "BC Hydro outage-map change log"),
                             ("replay-purdue", cmd_replay_purdue, "Purdue major U.S. outages"),
                             ("replay-oe417", cmd_replay_oe417, "DOE OE-417 disturbance summaries")):
        r = sub.add_parser(name, help=f"map the {what} to contract events and send them to Kafka")
        r.add_argument("--file", default=None, help="the data file (default: ../shared/data/...; for OE-417 "
                                                     "the shipped 2021 sample when that is absent)")
        r.add_argument("--limit", type=int, default=None, help="only the first N events")
        r.add_argument("--out-events", default=None, help="write the mapped events to a file instead of Kafka")
        kafka_opts(r)
        r.set_defaults(func=func)

    q = sub.add_parser("quality", help="precision, recall and delay of warnings against a ground truth")
    q.add_argument("--truth", required=True)
    q.add_argument("--warnings", required=True, help="warning messages: JSON lines or a JSON list")
    q.add_argument("--out-json", default=None)
    q.add_argument("--out-png", default=None)
    q.set_defaults(func=cmd_quality)

    e = sub.add_parser("evaluate", help="run a scenario through the in-memory engine and report quality")
    e.add_argument("--scenario", required=True, choices=sorted(SCENARIOS) + ["all"])
    e.add_argument("--seed", type=int, default=1)
    e.add_argument("--out-json", default=None)
    e.add_argument("--out-png", default=None)
    e.add_argument("--out-warnings", default=None)
    e.set_defaults(func=cmd_evaluate)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
