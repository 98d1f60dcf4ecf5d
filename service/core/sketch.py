"""A mergeable quantile sketch with a guaranteed relative error (DDSketch).

The algorithm of Masson, Rim and Lee (VLDB 2019): values fall into
logarithmic buckets of ratio gamma = (1 + a) / (1 - a), and any quantile is
answered with a value within relative error `a` of a true sample at that
rank. Buckets are plain `{index: count}` dicts, so a sketch is a JSON value
that a Faust table can store and a changelog can carry, and two sketches
merge by adding counts. The `ddsketch` package implements the same thing but
keeps its state in objects that serialise only through protobuf; the part we
need is the index function below, which is shorter than the adapter would be.
Values <= `tiny` (a crew on site at once) are counted in a zero bucket.
"""

from __future__ import annotations

import math

RELATIVE_ACCURACY = 0.01
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
TINY = 1e-9


def empty() -> dict:
    return {"n": 0, "z": 0, "b": {}}


def add(sketch: dict, value: float, count: int = 1) -> None:
    sketch["n"] += count
    if value <= TINY:
        sketch["z"] += count
        return
    key = str(math.ceil(math.log(value) / _LOG_GAMMA))
    sketch["b"][key] = sketch["b"].get(key, 0) + count


def merge(into: dict, other: dict) -> None:
    into["n"] += other["n"]
    into["z"] += other["z"]
    for k, c in other["b"].items():
        into["b"][k] = into["b"].get(k, 0) + c


def quantile(sketch: dict, q: float) -> float | None:
    """The q-quantile (0 <= q <= 1) using the lower rank convention, or None if empty."""
    n = sketch["n"]
    if n == 0:
        return None
    rank = q * (n - 1)
    seen = sketch["z"]
    if rank < seen:
        return 0.0
    for key in sorted(sketch["b"], key=int):
        seen += sketch["b"][key]
        if seen > rank:
            i = int(key)
            # the bucket (gamma^(i-1), gamma^i] answered by its midpoint in relative terms
            return 2 * _GAMMA**i / (_GAMMA + 1)
    return 2 * _GAMMA ** max(map(int, sketch["b"])) / (_GAMMA + 1)
