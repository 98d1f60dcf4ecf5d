"""A digest of everything the engine decides over a benchmark mix: for speed changes that must change nothing.

    .venv/bin/python -m bench.engine_digest [--events 60000] [--seed 7]
    cd /other/checkout && /work/main/.venv/bin/python -m bench.engine_digest   # the same digest, or a difference

Runs the mix (bench/mix.py) through `Engine.on_event` in event-time order,
derived events included, with a tick of every due key every 500 events, and
hashes every result (warnings, wake times, late and duplicate counts,
statistics, derived events) and every final state. Two checkouts that print
the same digest decided the same warnings at the same times from the same
states; a speed-up of the engine should not move it. `emitted_at` is not in
the engine's output, so nothing depends on the wall clock. A second digest
covers the warnings alone: a change to what a state keeps (not to what it
decides) moves the first and not the second.
"""

from __future__ import annotations

import argparse
import hashlib
import sys

import orjson

from bench.mix import encode, mix


def digest(events: int, seed: int) -> tuple[int, int, str, str]:
    """(warnings, final states, sha256 hex of everything, sha256 hex of the warnings alone) of the run."""
    from schemas import parse_event
    from service.config import DEFAULT_RULES, load_rulebook
    from service.core.engine import Engine
    from service.core.subjects import routes

    engine = Engine(load_rulebook(DEFAULT_RULES))
    state: dict[str, dict] = {}
    wakes: dict[str, float | None] = {}
    h, hw = hashlib.sha256(), hashlib.sha256()
    warnings = 0

    def dump(obj) -> bytes:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)

    def keep(key: str, result) -> None:
        nonlocal warnings
        if result.state is None:
            state.pop(key, None)
        else:
            state[key] = result.state
        wakes[key] = result.wake_at
        for w in result.warnings:
            h.update(dump(w))
            hw.update(dump(w))
            warnings += 1
        h.update(dump([key, result.wake_at, result.late, result.duplicate, result.stats, result.derived]))

    # a fixed start: event times, and so every decision, are the same on every run
    for i, (_, _, _, event) in enumerate(mix(events, 1_795_000_000.0, events / 9, seed)):
        parsed = parse_event(encode(event))
        body, ts = parsed.model_dump(mode="json", exclude_none=True), parsed.occurred_at.timestamp()
        todo = [(key, body, ts) for key in routes(body) if engine.reaches(key, body["type"])]  # as Shell.on_input
        while todo:
            key, ev, ets = todo.pop()
            result = engine.on_event(key, state.get(key), ev, ets, ets)
            keep(key, result)
            todo += [(target, d, d["ts"]) for target, d in result.derived]
        if i % 500 == 0:
            for key, at in list(wakes.items()):
                if at is not None and at <= ts and key in state:
                    keep(key, engine.on_tick(state[key], ts))
    for key in sorted(state):
        h.update(dump([key, state[key]]))
    return warnings, len(state), h.hexdigest(), hw.hexdigest()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=60_000)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)
    warnings, states, everything, published = digest(a.events, a.seed)
    print(f"{a.events} events (seed {a.seed}): {warnings} warnings, {states} states at the end, "
          f"sha256 {everything}; of the warnings alone {published}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
