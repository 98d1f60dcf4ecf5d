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


def test_aggregate_clock_waits_for_a_mark_from_every_partition():
    from service.core.clock import PartitionClocks

    c = PartitionClocks(partitions=3)
    assert c.tick(0, 100) == 100 and c.tick(0, 50) == 100  # never goes back
    c.mark(0, 0, 100)
    c.mark(0, 1, 90)
    assert c.aggregate_now(0) == float("-inf")  # partition 2 has not reported
    assert c.mark(0, 2, 120) == 90
    assert c.now_for("district:D1", 0) == 90 and c.now_for("ticket:T1", 0) == 100
    assert c.now_for("feeder:F1", 1) == float("-inf")


def test_expected_partition_holds_the_clock_until_it_delivers_or_idles():
    c = EventClock(idle_seconds=5)
    c.expect("outages", wall=0)
    c.observe("tickets", 1000, wall=1)
    assert c.now(wall=1) is None  # outages may hold a backlog older than 1000
    c.observe("outages", 400, wall=2)
    assert c.now(wall=2) == 400
    c.expect("outages", wall=3)  # re-assignment keeps what was seen
    assert c.now(wall=3) == 400
    c2 = EventClock(idle_seconds=5)
    c2.expect("empty", wall=0)
    c2.observe("tickets", 1000, wall=4)
    assert c2.now(wall=5) == 1000  # the empty partition idled out


def test_partition_with_a_backlog_never_idles():
    c = EventClock(idle_seconds=5)
    c.observe("slow", 100, wall=0)
    c.observe("fast", 5000, wall=0)
    c.backlog("slow", True)
    c.observe("fast", 6000, wall=60)
    assert c.now(wall=60) == 100  # still unread events behind 100: hold the clock
    c.backlog("slow", False)
    assert c.now(wall=60) == 6000


def test_with_several_workers_the_slowest_live_one_sets_the_clock():
    from service.core.clock import PartitionClocks

    c = PartitionClocks(partitions=1)
    assert c.tick(0, 100, worker="a", wall=0) == 100
    assert c.tick(0, 500, worker="b", wall=1) == 100  # b is ahead: a may still have events before 500
    assert c.tick(0, 300, worker="a", wall=2) == 300
    assert c.tick(0, 900, worker="b", wall=20) == 900  # a silent for 18 s: failed over, no longer counts
    assert c.tick(0, 400, worker="a", wall=21) == 900  # never goes back


def test_reassignment_forgets_partitions_read_elsewhere_and_expects_new_ones():
    c = EventClock(idle_seconds=5)
    c.observe("mine", 1000, wall=0)
    c.observe("lost", 100, wall=0)
    c.backlog("lost", True)  # taken away while behind
    assert c.now(wall=50) == 100
    c.assigned(["mine", "new"], wall=50)
    assert c.now(wall=51) is None  # "new" may hold older events: wait until it delivers or idles
    assert c.now(wall=56) == 1000  # "lost" no longer holds this worker's clock
