import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core import sketch
from service.core.sketch import RELATIVE_ACCURACY


def exact(values, q):
    s = sorted(values)
    return s[int(q * (len(s) - 1))]


@pytest.mark.parametrize("dist", ["lognormal", "uniform", "heavy"])
@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99])
def test_quantile_within_documented_relative_error(dist, q):
    rng = random.Random(42)
    gen = {"lognormal": lambda: rng.lognormvariate(3.5, 0.6),
           "uniform": lambda: rng.uniform(1, 240),
           "heavy": lambda: rng.paretovariate(1.2)}[dist]
    values = [gen() for _ in range(5000)]
    s = sketch.empty()
    for v in values:
        sketch.add(s, v)
    true = exact(values, q)
    assert abs(sketch.quantile(s, q) - true) <= RELATIVE_ACCURACY * true * 1.0001


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.01, max_value=1e6), min_size=1, max_size=200),
       st.lists(st.floats(min_value=0.01, max_value=1e6), min_size=1, max_size=200),
       st.sampled_from([0.0, 0.5, 0.9, 0.95, 1.0]))
def test_merged_sketches_answer_like_one_over_all_values(a, b, q):
    sa, sb, sall = sketch.empty(), sketch.empty(), sketch.empty()
    for v in a:
        sketch.add(sa, v)
        sketch.add(sall, v)
    for v in b:
        sketch.add(sb, v)
        sketch.add(sall, v)
    sketch.merge(sa, sb)
    assert sa == sall
    true = exact(a + b, q)
    assert abs(sketch.quantile(sa, q) - true) <= RELATIVE_ACCURACY * true * 1.0001


def test_zero_values_and_empty():
    s = sketch.empty()
    assert sketch.quantile(s, 0.9) is None
    for v in [0, 0, 0, 10]:
        sketch.add(s, v)
    assert sketch.quantile(s, 0.5) == 0.0
    assert sketch.quantile(s, 1.0) == pytest.approx(10, rel=RELATIVE_ACCURACY)
