"""Window rules decide consecutive window ends by sliding the aggregate: the same as summing each window."""

from __future__ import annotations

import random

import pytest

from service.core.rules.base import UNMERGE, slid
from service.core.windows import Count, Mean, Ratio, Window


@pytest.mark.parametrize("agg, value", [(Count, lambda r: 1), (Mean, lambda r: float(r.randint(1, 5))),
                                        (Ratio, lambda r: r.random() < 0.3)])
def test_a_slid_window_is_the_window_summed_again(agg, value):
    rng = random.Random(4)
    w = Window(3600.0, 300.0)
    state = w.new_state()
    t0 = 1_795_766_400.0
    for _ in range(400):
        w.add(state, agg, t0 + rng.uniform(0, 6 * 3600), value(rng))
    previous = None
    for k in range(1, 80):
        end = t0 + k * 300.0
        got = slid(w, state, agg, UNMERGE[agg], previous, end)
        assert got == w.aggregate(state, agg, end), end
        previous = (end, got)
