import pytest

from service.core.windows import Count, Mean, Quantile, Ratio, Sum, Window, samples

MIN = 60.0


def feed(window, agg, points):
    state = window.new_state()
    for ts, v in points:
        window.add(state, agg, ts, v)
    return state


def test_tumbling_window_boundaries_are_half_open():
    w = Window(size=10, step=10)
    s = feed(w, Count, [(0, 1), (9.999, 1), (10, 1)])
    assert w.due_ends(s, now=10) == [10]
    assert Count.result(w.aggregate(s, Count, 10)) == 2  # [0, 10)
    assert Count.result(w.aggregate(s, Count, 20)) == 1  # [10, 20)


def test_sliding_window_sums_the_last_size_over_step_buckets():
    w = Window(size=60 * MIN, step=5 * MIN)
    s = feed(w, Sum, [(m * MIN, 1.0) for m in range(0, 120, 5)])
    assert Sum.result(w.aggregate(s, Sum, 60 * MIN)) == 12
    assert Sum.result(w.aggregate(s, Sum, 30 * MIN)) == 6
    assert Sum.result(w.aggregate(s, Sum, 120 * MIN)) == 12


def test_end_is_due_only_after_the_allowed_lateness():
    w = Window(size=10, step=10, lateness=5)
    s = feed(w, Count, [(1, 1)])
    assert w.due_ends(s, now=14.9) == []
    assert w.due_ends(s, now=15) == [10]
    assert w.next_due(s) == 15


def test_event_within_lateness_counts_and_beyond_it_is_counted_as_late():
    w = Window(size=10, step=10, lateness=5)
    s = feed(w, Count, [(1, 1), (12, 1)])
    assert w.add(s, Count, 8, 1)  # late but within lateness: window [0,10) not decided yet
    for end in w.due_ends(s, now=15):
        assert Count.result(w.aggregate(s, Count, end)) == 2
        w.mark_evaluated(s, end)
    assert not w.add(s, Count, 9, 1)  # [0,10) was decided: counted as late, not lost silently
    assert s["late"] == 1


def test_out_of_order_events_within_lateness_give_the_in_order_result():
    w = Window(size=30, step=10, lateness=20)
    in_order = feed(w, Mean, [(t, float(t)) for t in range(0, 30)])
    shuffled = feed(w, Mean, [(t, float(t)) for t in [29, 3, 17, 0, 25, 8] + [t for t in range(30) if t not in (29, 3, 17, 0, 25, 8)]])
    assert w.aggregate(in_order, Mean, 30) == w.aggregate(shuffled, Mean, 30)


def test_evaluated_buckets_no_future_window_needs_are_dropped():
    w = Window(size=30, step=10)
    s = feed(w, Count, [(t, 1) for t in range(0, 60, 5)])
    w.mark_evaluated(s, 40)
    assert sorted(float(k) for k in s["b"]) == [20.0, 30.0, 40.0, 50.0]


def test_ratio_quantile_and_samples():
    w = Window(size=10, step=10)
    s = feed(w, Ratio, [(1, True), (2, False), (3, False), (4, True)])
    assert Ratio.result(w.aggregate(s, Ratio, 10)) == 0.5
    q = Quantile(0.9)
    s2 = feed(w, q, [(t / 100, float(t)) for t in range(1, 101)])
    agg = w.aggregate(s2, q, 10)
    assert samples(q, agg) == 100 and q.result(agg) == pytest.approx(90, rel=0.01)


def test_bad_window_is_refused():
    with pytest.raises(ValueError):
        Window(size=5, step=10)
