from service.core.deadlines import Deadline, advance, next_due, stop
from service.core.warning_state import WarningState

MIN = 60.0
URBAN = [Deadline("yellow", 36 * MIN), Deadline("orange", 45 * MIN), Deadline("red", 90 * MIN)]


def kinds(ts):
    return [(t.kind, t.severity, t.at) for t in ts]


def test_crossings_are_stamped_with_their_exact_time_not_the_tick():
    s = WarningState()
    assert advance(s, 1000, URBAN, 1000 + 35 * MIN, MIN) == []
    got = advance(s, 1000, URBAN, 1000 + 100 * MIN, MIN)  # one coarse tick passes all three
    assert kinds(got) == [
        ("raised", "yellow", 1000 + 36 * MIN),
        ("escalated", "orange", 1000 + 45 * MIN),
        ("escalated", "red", 1000 + 90 * MIN),
    ]
    assert [t.value for t in got] == [36, 45, 90]
    assert advance(s, 1000, URBAN, 1000 + 200 * MIN, MIN) == []  # nothing new


def test_tick_granularity_does_not_change_the_timeline():
    fine, coarse = WarningState(), WarningState()
    fine_out = []
    for minute in range(0, 121):
        fine_out += advance(fine, 0, URBAN, minute * MIN, MIN)
    coarse_out = advance(coarse, 0, URBAN, 120 * MIN, MIN)
    assert fine_out == coarse_out


def test_stop_plays_earlier_crossings_then_resolves():
    s = WarningState()
    got = stop(s, 0, URBAN, 50 * MIN, MIN)
    assert kinds(got) == [("raised", "yellow", 36 * MIN), ("escalated", "orange", 45 * MIN), ("resolved", "orange", 50 * MIN)]
    assert got[-1].value == 50 and got[-1].threshold == 45
    assert stop(s, 0, URBAN, 50 * MIN, MIN) == []  # redelivery changes nothing


def test_stop_before_the_first_crossing_is_silent():
    assert stop(WarningState(), 0, URBAN, 30 * MIN, MIN) == []


def test_equal_offsets_take_the_highest_severity():
    s = WarningState()
    got = advance(s, 0, [Deadline("yellow", 10), Deadline("red", 20), Deadline("orange", 20)], 25, 1)
    assert kinds(got) == [("raised", "yellow", 10), ("escalated", "red", 20)]


def test_next_due_is_just_past_the_first_crossing_not_yet_exceeded():
    import math

    assert next_due(0, URBAN, 0) == math.nextafter(36 * MIN, math.inf)
    assert next_due(0, URBAN, 36 * MIN) == math.nextafter(36 * MIN, math.inf)  # reached, not exceeded
    assert next_due(0, URBAN, 37 * MIN) == math.nextafter(45 * MIN, math.inf)
    assert next_due(0, URBAN, 91 * MIN) is None


def test_a_limit_is_exceeded_only_once_the_clock_is_past_it():
    s = WarningState()
    assert advance(s, 0, URBAN, 36 * MIN, MIN) == []  # at the limit: not late yet
    assert kinds(advance(s, 0, URBAN, 36 * MIN + 1, MIN)) == [("raised", "yellow", 36 * MIN)]


def test_the_awaited_event_exactly_at_the_limit_is_in_time_no_zero_length_warning():
    s = WarningState()
    assert advance(s, 0, URBAN, 36 * MIN, MIN) == []  # a tick at the very limit
    assert stop(s, 0, URBAN, 36 * MIN, MIN) == []  # the crew arrives at 36 min exactly
    assert s.seq == 0 and s.status == "inactive"
    got = stop(WarningState(), 0, URBAN, 45 * MIN, MIN)  # at the orange limit: yellow only, then clear
    assert kinds(got) == [("raised", "yellow", 36 * MIN), ("resolved", "yellow", 45 * MIN)]
