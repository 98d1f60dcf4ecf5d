"""Baselines for surge rules: periods aligned to the end, zero days, history guard, the deviation floor."""

import math

import pytest

from service.core.baseline import (
    DAY,
    HOUR,
    Baseline,
    baseline,
    daily_baseline,
    deviation_floor,
    hourly_baseline,
    mean_std,
    period_counts,
    z_score,
)


def hourly(counts: dict[float, int]) -> dict[str, int]:
    """Buckets keyed like windows.Window: repr of the bucket start."""
    return {repr(float(t)): n for t, n in counts.items()}


def test_periods_are_aligned_to_the_end_and_exclude_the_current_one():
    end = 10 * DAY + 14 * HOUR
    b = hourly({
        end - 1 * HOUR: 7,  # the current 24 h: not its own history
        end - DAY - 1 * HOUR: 2,  # period 1, its last hour
        end - 2 * DAY: 1,  # period 1, its first hour (periods are half-open)
        end - 2 * DAY - 1 * HOUR: 3,  # period 2, its last hour
        end - 3 * DAY + 5 * HOUR: 4,  # period 2
    })
    assert period_counts(b, end, DAY, 3) == [3, 7, 0]


def test_days_without_events_count_as_zero_but_only_once_observed():
    end = 10 * DAY
    b = hourly({end - 2 * DAY + HOUR: 6})
    assert period_counts(b, end, DAY, 5) == [6, 0, 0, 0, 0]
    # Observed for 3 days before the current 24 h: only 3 history days, not 5.
    assert period_counts(b, end, DAY, 5, observed_from=end - 4 * DAY) == [6, 0, 0]
    assert period_counts(b, end, DAY, 5, observed_from=end - 4 * DAY + 1) == [6, 0]


def test_mean_and_sample_standard_deviation():
    assert mean_std([]) == (0.0, 0.0)
    assert mean_std([3]) == (3.0, 0.0)
    mean, std = mean_std([2, 4, 4, 4, 5, 5, 7, 9])
    assert mean == 5 and std == pytest.approx(math.sqrt(32 / 7))


@pytest.mark.parametrize("mean,std,floor", [(0, 0, 1), (0.25, 0, 1), (16, 0, 4), (16, 5, 5), (4, 1.5, 2)])
def test_deviation_floor_is_max_of_std_sqrt_mean_and_one(mean, std, floor):
    assert deviation_floor(mean, std) == floor


def test_flat_zero_history_gives_a_finite_z_equal_to_the_count():
    assert z_score(5, 0.0, 0.0) == 5
    assert z_score(5, 0.0, 0.0, min_deviation=2.0) == 2.5
    # A perfectly regular history of 4 a day: Poisson noise, not a surge.
    assert z_score(6, 4.0, 0.0) == 1


def test_baseline_needs_the_minimum_history():
    end = 20 * DAY
    b = hourly({end - 3 * DAY: 1})
    observed = end - 7 * DAY  # 6 complete history days before the current 24 h
    assert daily_baseline(b, end, 28, observed_from=observed, min_days=7) is None
    got = daily_baseline(b, end, 28, observed_from=observed - DAY, min_days=7)
    assert got is not None and got.periods == 7 and got.mean == pytest.approx(1 / 7)
    assert daily_baseline(b, end, 28, observed_from=observed, min_days=6).periods == 6


def test_baseline_level_is_the_count_a_z_calls_for():
    base = Baseline(mean=4.0, std=0.0, periods=28)
    assert base.deviation == 2.0
    assert base.z(8) == 2.0 and base.level(3.0) == 10.0


def test_hourly_baseline_uses_n_times_24_hours():
    end = 30 * DAY
    b = hourly({end - HOUR - h * HOUR: 2 for h in range(1, 24 * 10)})
    got = hourly_baseline(b, end, 7)
    assert got.periods == 168 and got.mean == 2 and got.std == 0
    assert hourly_baseline(b, end, 7, observed_from=end - 20 * HOUR, min_days=1) is None
    assert baseline(b, end, HOUR, 168, observed_from=end - 25 * HOUR, min_periods=24).periods == 24
