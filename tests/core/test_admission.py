"""Event times the service refuses, against its clocks (service/core/admission.py)."""

from service.core.admission import check_event_time

DAY = 86400.0
WALL = 1_795_000_000.0  # 2026-11-18
YEAR_2100 = 4102444800.0
SKEW, RETENTION = 300.0, 7 * DAY


def check(ts, clock, wall=WALL):
    return check_event_time(ts, wall, clock, max_skew=SKEW, retention=RETENTION)


def test_an_event_dated_2100_is_future_event_time_in_both_clock_modes():
    for clock in (WALL, WALL - 400 * DAY, None):  # wall mode; replaying 2025; the event clock not started
        reason, detail = check(YEAR_2100, clock)
        assert reason == "future_event_time"
        assert detail.startswith("future_event_time: occurred_at 2100-01-01T00:00:00.000Z")


def test_the_skew_is_allowed_and_no_more():
    assert check(WALL + SKEW, WALL) is None
    assert check(WALL + SKEW + 1, WALL)[0] == "future_event_time"


def test_too_old_is_measured_against_the_service_clock():
    assert check(WALL - RETENTION, WALL) is None
    reason, detail = check(WALL - RETENTION - 1, WALL)
    assert reason == "too_old" and detail.startswith("too_old: ")
    # replaying history on the event clock: 2015 is judged against the event clock, not today
    replay_clock = WALL - 11 * 365 * DAY
    assert check(replay_clock - DAY, replay_clock) is None
    assert check(replay_clock - RETENTION - 1, replay_clock)[0] == "too_old"


def test_an_event_clock_that_cannot_tell_yet_finds_nothing_too_old():
    assert check(WALL - 20 * 365 * DAY, None) is None
    assert check(WALL - 20 * 365 * DAY, float("-inf")) is None
