"""Where the worker's time goes: summarise a py-spy profile of `python -m service worker`.

    .venv/bin/python -m bench.run --parts load,throughput --events 20000 --profile 40
    .venv/bin/python -m bench.profile /tmp/bench-<tag>-*/pyspy.raw [--top 30]

`bench.run --profile S` attaches `py-spy record --format raw` (collapsed stacks, 200 Hz, non-blocking)
to the throughput worker for S seconds from its first consumed event. This prints, per function,
the share of samples where it is on the stack (inclusive) and at the top (self), and a few
buckets that map onto the code (pydantic validation, JSON, table writes, the engine ...).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

# bucket name -> regex on a frame "function (file:line)"; first match from the top of the stack wins
BUCKETS = [
    ("wakeups.due (ticks/marks)", r"^due \(.*service/core/wakeups\.py"),
    ("state table rebuild", r"^rebuild \(.*service/app\.py"),
    ("changelog/table write (faust)", r"faust/tables/(base|table)\.py|on_key_set|_send_changelog"),
    ("engine.on_event / on_tick", r"service/core/engine\.py"),
    ("schemas.parse_event (pydantic)", r"schemas/(events|bodies)\.py"),
    ("model_dump", r"model_dump"),
    ("json (de)serialisation", r"json/(encoder|decoder|__init__)\.py|faust/serializers|orjson"),
    ("prometheus metrics", r"prometheus_client"),
    ("logging", r"logging/__init__\.py"),
    ("aiokafka producer/consumer", r"aiokafka/"),
    ("faust stream/agent machinery", r"faust/(streams|agents|transport|channels|topics)"),
    ("mode / asyncio loop", r"asyncio/|mode/"),
]


def frames(line: str) -> tuple[list[str], int]:
    stack, _, count = line.rstrip("\n").rpartition(" ")
    return stack.split(";"), int(count)


def short(frame: str) -> str:
    m = re.match(r"(.*?) \((.*?):(\d+)\)$", frame)
    if not m:
        return frame
    fn, path, _ = m.groups()
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{fn} ({path})"


def summarise(path: Path, top: int = 25) -> str:
    inclusive: Counter[str] = Counter()
    self_: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        stack, n = frames(line)
        stack = [f for f in stack if not f.startswith("process ") and not f.startswith("thread ")]
        total += n
        names = [short(f) for f in stack]
        for name in set(names):
            inclusive[name] += n
        if names:
            self_[names[-1]] += n
        for bucket, rx in BUCKETS:  # innermost matching bucket: walk from the top of the stack
            if any(re.search(rx, f) for f in reversed(stack[-12:])):
                buckets[bucket] += n
                break
        else:
            buckets["other"] += n
    out = [f"{total} samples from {path}", "", "by bucket (innermost match within the top 12 frames):"]
    out += [f"  {100 * n / total:5.1f} %  {b}" for b, n in buckets.most_common()]
    out += ["", f"inclusive (on the stack), top {top}:"]
    out += [f"  {100 * n / total:5.1f} %  {f}" for f, n in inclusive.most_common(top)]
    out += ["", f"self (top of the stack), top {top}:"]
    out += [f"  {100 * n / total:5.1f} %  {f}" for f, n in self_.most_common(top)]
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("raw", type=Path)
    p.add_argument("--top", type=int, default=25)
    a = p.parse_args(argv)
    print(summarise(a.raw, a.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
