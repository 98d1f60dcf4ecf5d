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


YEAR = 365 * 86400.0


def test_an_old_first_observation_walks_one_window_of_steps_not_every_step_since():
    """A complaint dated 30 years back for a new district: hourly steps of a 24 h window."""
    w = Window(size=24 * 60 * MIN, step=60 * MIN)
    now = 1_795_000_000.0
    s = feed(w, Count, [(now - 30 * YEAR, 1)])
    ends = w.due_ends(s, now)
    assert len(ends) <= 24 + 2  # the 24 windows holding it, the first empty one, the last due end
    old = w.bucket_of(now - 30 * YEAR)
    assert ends[:25] == [old + k * 60 * MIN for k in range(1, 26)]  # every window holding it is decided
    assert ends[-1] == w.bucket_of(now)  # and the state is decided up to the clock
    assert [Count.result(w.aggregate(s, Count, e)) for e in ends] == [1.0] * 24 + [0.0] * (len(ends) - 24)


def test_skipping_empty_ends_keeps_every_end_whose_window_holds_data():
    w = Window(size=3 * MIN, step=MIN)
    points = [(0, 1), (100 * MIN, 1), (100.5 * MIN, 1), (500 * MIN, 1)]
    s = feed(w, Count, points)
    ends = w.due_ends(s, now=1000 * MIN)
    every = [k * MIN for k in range(1, 1001)]
    holding = [e for e in every if Count.result(w.aggregate(s, Count, e)) > 0]
    assert set(holding) <= set(ends)
    assert len(ends) <= len(holding) + 3 * 2 + 1  # plus the first empty end after each stretch, and the last
    kept = set(ends)
    for e in every:  # an end left out is empty, and so is the last end kept before it
        if e not in kept:
            before = max(k for k in ends if k < e)
            assert Count.result(w.aggregate(s, Count, e)) == Count.result(w.aggregate(s, Count, before)) == 0
    assert ends == sorted(ends) and ends[-1] == 1000 * MIN


def test_an_old_dated_first_event_for_a_new_district_costs_a_bounded_number_of_window_steps(monkeypatch):
    """Through the engine, every rule of a district: the steps each window walks are counted."""
    import math

    from service.config import DEFAULT_RULES, load_rulebook
    from service.core.engine import Engine

    walked = []
    plain = Window.due_ends

    def counting(self, state, now):
        ends = plain(self, state, now)
        walked.append((self, len(ends)))
        return ends

    monkeypatch.setattr(Window, "due_ends", counting)
    engine = Engine(load_rulebook(DEFAULT_RULES))
    now = 1_795_000_000.0
    ts = now - 20 * YEAR
    for kind, event in [
        ("district:D-new", {"event_id": "k1", "type": "complaint.received", "complaint_id": "K1",
                            "district_id": "D-new", "category": "repair_delay", "staff_id": "S-new"}),
        ("district:D-new", {"event_id": "v1", "type": "survey.completed", "survey_id": "V1",
                            "district_id": "D-new", "score": 1, "staff_id": "S-new"}),
    ]:
        result = engine.on_event(kind, None, event, ts, now)
        for target, derived in result.derived:  # the staff member's and feeder's own windows too
            engine.on_event(target, None, derived, derived["ts"], now)
    assert walked, "the district's window rules were evaluated"
    for w, n in walked:
        assert n <= math.ceil(w.size / w.step) + 2, (w, n)
    # walking every step since would have been 20 years of them for each window
    assert sum(n for _, n in walked) < 20 * YEAR / (60 * MIN) / 10


@pytest.mark.parametrize("agg", [Count, Sum, Mean, Ratio, Quantile(0.9)], ids=lambda a: a.name)
def test_a_windows_total_is_its_buckets_merged_one_by_one_and_leaves_them_as_they_were(agg):
    values = {"count": [1, 1, 1], "sum": [0.1, 0.2, 0.3], "mean": [1.5, 2.25, 7.0],
              "ratio": [True, False, True], "p90": [3.0, 0.0, 41.0, 3.5]}[agg.name]
    buckets = []
    for i, v in enumerate(values):
        state = agg.zero()
        for _ in range(i + 1):
            state = agg.add(state, v)
        buckets.append(state)
    before = repr(buckets)
    merged = agg.zero()
    for b in buckets:
        merged = agg.merge(merged, b)
    assert agg.total(buckets) == merged  # floats added in the same order: equal, not just close
    assert agg.total([]) == agg.zero()
    assert repr(buckets) == before
