"""What one subject costs in a flood: a district's complaints and a recipient group's warnings.

    .venv/bin/python -m bench.flood_cost [--hours 48] [--rates 10,100,1000] [--fingerprints 100,1000,5000]

Service code alone, no Kafka, one process, `time.perf_counter` around each call:

- district: `Engine.on_event` for one district, all default rules on, fed `billing_error`
  complaints at each rate (per hour, evenly spaced, in order, the clock at each event) for
  `--hours`; prints the mean cost of the last 500 events and the size of the district's
  state as JSON (what each changelog write of it carries), with the largest rule states.
- group: `Notifier.on_warning` for one recipient group that already holds N fingerprints
  (one firing warning each, half a second apart, so every one is still remembered); prints
  the mean cost of 500 more warnings and the size of the group's state as JSON.

A subject's cost should not grow with the flood it is in: these are the numbers to compare
between two checkouts (run it in each; alternate, this machine is noisy).
"""

from __future__ import annotations

import argparse
import time

import orjson

T0 = 1_795_000_000.0


def district_flood(rate_per_hour: float, hours: float) -> tuple[float, int, dict[str, int]]:
    """(mean seconds per event of the last 500, state bytes, bytes per rule state)."""
    from service.config import DEFAULT_RULES, load_rulebook
    from service.core.engine import Engine

    engine = Engine(load_rulebook(DEFAULT_RULES))
    state, t, gap, times = None, T0, 3600.0 / rate_per_hour, []
    for i in range(int(rate_per_hour * hours)):
        event = {"event_id": f"c-{i}", "type": "complaint.received", "district_id": "D1",
                 "category": "billing_error", "complaint_id": f"C{i}", "channel": "phone"}
        start = time.perf_counter()
        state = engine.on_event("district:D1", state, event, t, t).state
        times.append(time.perf_counter() - start)
        t += gap
    last = times[-500:]
    rules = {rule_id: len(orjson.dumps(r)) for rule_id, r in state["rules"].items()}
    return sum(last) / len(last), len(orjson.dumps(state)), rules


def group_flood(fingerprints: int) -> tuple[float, int, int]:
    """(mean seconds per warning of 500 more, state bytes, fingerprints held)."""
    from service.core.notify import Notifier, NotifyConfig

    notifier = Notifier(NotifyConfig(default_group="g"))

    def warning(i: int) -> dict:
        fp = f"{i:032x}"
        return {"warning_id": f"{fp}-1", "fingerprint": fp, "rule_id": "repair.arrival_overdue",
                "severity": "yellow", "status": "firing", "transition": "raised",
                "scope": {"ticket_id": f"T{i}", "district_id": "D1"},
                "metric": {"name": "minutes_without_arrival", "value": 50.0, "threshold": 45.0, "unit": "min"},
                "changed_at": "2026-11-27T08:00:00.000Z", "suppressed": False}

    state, t = None, T0
    for i in range(fingerprints):
        state = notifier.on_warning(state, warning(i), "g", t).state
        t += 0.5
    start = time.perf_counter()
    for i in range(fingerprints, fingerprints + 500):
        state = notifier.on_warning(state, warning(i), "g", t).state
        t += 0.5
    return (time.perf_counter() - start) / 500, len(orjson.dumps(state)), len(state["fps"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hours", type=float, default=48.0)
    p.add_argument("--rates", default="10,100,1000", help="billing-error complaints per hour in one district")
    p.add_argument("--fingerprints", default="100,1000,5000", help="fingerprints a recipient group holds")
    a = p.parse_args(argv)
    print(f"district, all default rules, {a.hours:g} h of billing-error complaints:")
    for rate in (float(r) for r in a.rates.split(",")):
        seconds, size, rules = district_flood(rate, a.hours)
        biggest = ", ".join(f"{k} {v / 1e3:.1f} KB" for k, v in sorted(rules.items(), key=lambda kv: -kv[1])[:2])
        print(f"  {rate:6g}/h: {seconds * 1e6:7.0f} us per event (last 500); state {size / 1e3:6.1f} KB ({biggest})")
    print("recipient group, one firing warning per fingerprint:")
    for n in (int(x) for x in a.fingerprints.split(",")):
        seconds, size, held = group_flood(n)
        print(f"  {n:6d} fingerprints: {seconds * 1e6:7.0f} us per warning (500 more); "
              f"state {size / 1e3:6.1f} KB, {held} fingerprints held")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
