from datetime import datetime

from service.demo import timed_stream


def test_no_demo_event_is_dated_after_the_moment_it_is_sent():
    wall0 = 1_800_000_000.0
    stream = timed_stream(wall0, speed=60.0, minutes=180.0, seed=7)
    assert len(stream) > 50
    for send_at, _, _, event in stream:
        assert datetime.fromisoformat(event["occurred_at"]).timestamp() <= send_at + 1e-6
    # the stream is accelerated: three event-time hours in about three wall minutes, ending near now
    assert stream[-1][0] - wall0 <= 180.0 + 1e-6
    assert stream[0][0] >= wall0 - 1e-6
