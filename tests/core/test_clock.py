from service.core.clock import EventClock


def test_no_events_no_time():
    assert EventClock().now(wall=100) is None


def test_clock_is_the_slowest_active_partition():
    c = EventClock(idle_seconds=5)
    c.observe("a", 1000, wall=0)
    c.observe("b", 400, wall=0)
    c.observe("a", 1200, wall=1)
    assert c.now(wall=1) == 400
    c.observe("b", 900, wall=2)
    assert c.now(wall=2) == 900


def test_event_time_never_goes_back_for_a_partition():
    c = EventClock()
    c.observe("a", 1000, wall=0)
    c.observe("a", 10, wall=1)
    assert c.now(wall=1) == 1000


def test_idle_partition_stops_holding_the_clock_back():
    c = EventClock(idle_seconds=5)
    c.observe("billing", 100, wall=0)
    c.observe("outages", 5000, wall=4)
    assert c.now(wall=4.9) == 100
    assert c.now(wall=5.0) == 5000
    c.observe("outages", 6000, wall=20)
    assert c.now(wall=30) == 6000  # all idle: the highest time seen


def test_lateness_keeps_the_clock_behind():
    c = EventClock(lateness_seconds=60)
    c.observe("a", 1000, wall=0)
    assert c.now(wall=0) == 940
