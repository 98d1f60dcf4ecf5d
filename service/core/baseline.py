"""Baselines for surge rules: is this period's count unusual for this subject?

A surge rule keeps counts in buckets (a plain dict `{repr(bucket_start): count}`,
the format of `windows.Window`) and compares the count of the period just
ended with the counts of the same-length periods before it: the last N days of
daily counts, or the last N*24 hourly counts. Everything here is a pure
function over that dict, with times passed in.

Decisions:
- History periods are aligned to the evaluated end (a trailing 24 h ending at
  14:00 is compared with the 24 h periods ending at 14:00 on earlier days), so
  an hourly evaluation needs no time zone and no calendar day.
- A period with no events counts as zero, but only once the subject has been
  observed for that period (it starts at or after `observed_from`); a
  district first seen three days ago has three days of history, not 28 days
  of which 25 are zeros. Callers require a minimum history before they warn.
- The current period is not part of its own baseline, so a surge does not
  hide itself by inflating the mean.
- The deviation is the sample standard deviation (n - 1), floored at
  max(std, sqrt(mean), min_deviation) with min_deviation 1 by default:
  counts of complaints and alarms are roughly Poisson, whose standard
  deviation is sqrt(mean), so a history that happens to be very regular does
  not turn ordinary Poisson noise into a surge; the floor of 1 keeps z finite
  on a flat-zero history, where z is then simply the count above the mean.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

HOUR = 3600.0
DAY = 86400.0


@dataclass(frozen=True)
class Baseline:
    mean: float
    std: float  # sample standard deviation of the history, not floored
    periods: int  # how many history periods it was computed from
    min_deviation: float = 1.0

    @property
    def deviation(self) -> float:
        """The deviation z is measured in: the floored standard deviation."""
        return deviation_floor(self.mean, self.std, self.min_deviation)

    def z(self, value: float) -> float:
        return z_score(value, self.mean, self.std, self.min_deviation)

    def level(self, z: float) -> float:
        """The count at which z reaches `z` (what a duty officer compares the count with)."""
        return self.mean + z * self.deviation


def period_counts(buckets: dict[str, float], end: float, period: float, n: int,
                  observed_from: float | None = None) -> list[float]:
    """Totals of the n periods before the one ending at `end`, most recent first.

    Period k (k = 1..n) covers [end - (k+1)*period, end - k*period). Buckets
    are summed by their start time. Periods starting before `observed_from`
    are not history and are left out (not counted as zero).
    """
    starts = sorted(float(k) for k in buckets)
    values = {float(k): v for k, v in buckets.items()}
    cumulative = [0.0]
    for s in starts:
        cumulative.append(cumulative[-1] + values[s])

    def total(lo: float, hi: float) -> float:
        return cumulative[bisect.bisect_left(starts, hi)] - cumulative[bisect.bisect_left(starts, lo)]

    out = []
    for k in range(1, n + 1):
        lo = end - (k + 1) * period
        if observed_from is not None and lo < observed_from:
            break
        out.append(total(lo, lo + period))
    return out


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for fewer than two values)."""
    if not values:
        return 0.0, 0.0
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var)


def deviation_floor(mean: float, std: float, min_deviation: float = 1.0) -> float:
    """max(std, sqrt(mean), min_deviation): see the module docstring for why."""
    return max(std, math.sqrt(max(mean, 0.0)), min_deviation)


def z_score(value: float, mean: float, std: float, min_deviation: float = 1.0) -> float:
    """How many (floored) deviations `value` lies above the mean; always finite."""
    return (value - mean) / deviation_floor(mean, std, min_deviation)


def baseline(buckets: dict[str, float], end: float, period: float, n: int, *,
             observed_from: float | None = None, min_periods: int = 1,
             min_deviation: float = 1.0) -> Baseline | None:
    """The baseline of the n periods before `end`, or None with fewer than `min_periods` observed."""
    values = period_counts(buckets, end, period, n, observed_from)
    if len(values) < max(min_periods, 1):
        return None
    mean, std = mean_std(values)
    return Baseline(mean, std, len(values), min_deviation)


def daily_baseline(buckets: dict[str, float], end: float, days: int, *, observed_from: float | None = None,
                   min_days: int = 7, min_deviation: float = 1.0) -> Baseline | None:
    """Mean and deviation of the last `days` 24-hour counts before the 24 h ending at `end`."""
    return baseline(buckets, end, DAY, days, observed_from=observed_from, min_periods=min_days,
                    min_deviation=min_deviation)


def hourly_baseline(buckets: dict[str, float], end: float, days: int, *, observed_from: float | None = None,
                    min_days: float = 1, min_deviation: float = 1.0) -> Baseline | None:
    """Mean and deviation of the last `days`*24 hourly counts before the hour ending at `end`."""
    return baseline(buckets, end, HOUR, round(days * 24), observed_from=observed_from,
                    min_periods=math.ceil(min_days * 24), min_deviation=min_deviation)
