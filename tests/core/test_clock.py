from service.core.clock import EventClock, PartitionClocks


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


def test_with_several_workers_the_slowest_one_sets_the_clock():
    from service.core.clock import PartitionClocks

    c = PartitionClocks(partitions=1)
    # generation 2: a and b read 3 input partitions each, of 6
    assert c.tick(0, 100, worker="a", generation=2, owned=3, total=6) == float("-inf")  # b has not spoken
    assert c.tick(0, 500, worker="b", generation=2, owned=3, total=6) == 100  # a may have events before 500
    assert c.tick(0, 300, worker="a", generation=2, owned=3, total=6) == 300
    assert c.tick(0, 200, worker="a", generation=2, owned=3, total=6) == 300  # a worker never goes back


def test_a_killed_worker_holds_the_clock_until_its_partitions_are_read_by_others():
    from service.core.clock import PartitionClocks

    c = PartitionClocks(partitions=1)
    c.tick(0, 100, worker="a", generation=2, owned=3, total=6)
    c.tick(0, 500, worker="b", generation=2, owned=3, total=6)
    # b is killed; however long the broker takes to notice, b's last tick holds the clock
    for _ in range(100):
        assert c.tick(0, 900, worker="a", generation=2, owned=3, total=6) == 500
    # generation 3 has begun, a has not yet been given b's partitions: b still counts
    assert c.tick(0, 950, worker="a", generation=3, owned=3, total=6) == 500
    # a reads all six now; it cannot tell yet how far b's partitions are: hold
    assert c.tick(0, None, worker="a", generation=3, owned=6, total=6) == 500
    # b's partitions had unread events at 600: a's clock is there, b no longer counts
    assert c.tick(0, 600, worker="a", generation=3, owned=6, total=6) == 600
    assert c.tick(0, 1000, worker="a", generation=3, owned=6, total=6) == 1000


def test_a_cleanly_restarted_worker_replaces_its_predecessor_at_once():
    from service.core.clock import PartitionClocks

    c = PartitionClocks(partitions=1)
    c.tick(0, 100, worker="old", generation=1, owned=6, total=6)
    assert c.tick(0, 400, worker="new", generation=2, owned=6, total=6) == 400


def test_coverage_unknown_keeps_every_worker():
    from service.core.clock import PartitionClocks

    c = PartitionClocks(partitions=1)
    c.tick(0, 100, worker="old", generation=1, owned=6, total=6)
    assert c.tick(0, 400, worker="new", generation=2, owned=6, total=None) == 100


def test_reassignment_forgets_partitions_read_elsewhere_and_expects_new_ones():
    c = EventClock(idle_seconds=5)
    c.observe("mine", 1000, wall=0)
    c.observe("lost", 100, wall=0)
    c.backlog("lost", True)  # taken away while behind
    assert c.now(wall=50) == 100
    c.assigned(["mine", "new"], wall=50)
    assert c.now(wall=51) is None  # "new" may hold older events: wait until it delivers or idles
    assert c.now(wall=56) == 1000  # "lost" no longer holds this worker's clock


def test_when_every_live_worker_is_idle_the_clock_is_the_highest_any_reached():
    from service.core.clock import PartitionClocks

    c = PartitionClocks(partitions=1, liveness_seconds=5)
    c.tick(0, 300, worker="a", generation=2, owned=3, total=6, wall=0)
    assert c.tick(0, 900, worker="b", generation=2, owned=3, total=6, idle=True, wall=0) == 300  # a still reads
    assert c.tick(0, 300, worker="a", generation=2, owned=3, total=6, idle=True, wall=1) == 900  # the replay ended
    assert c.peak() == 900


def test_a_silent_idle_worker_may_be_dead_with_unread_events_so_it_holds_the_clock():
    from service.core.clock import PartitionClocks

    c = PartitionClocks(partitions=1, liveness_seconds=5)
    c.tick(0, 500, worker="b", generation=2, owned=3, total=6, idle=True, wall=0)  # b's last word
    c.tick(0, 400, worker="a", generation=2, owned=3, total=6, wall=1)
    # a reads on and runs dry; b has not ticked for 10 s: its partitions may hold events nobody reads
    assert c.tick(0, 2000, worker="a", generation=2, owned=3, total=6, idle=True, wall=10) == 500


def test_a_worker_knows_only_whether_its_own_partitions_are_idle():
    c = EventClock(idle_seconds=5)
    c.observe("a", 100, wall=0)
    assert not c.all_idle(wall=1)
    assert c.all_idle(wall=6)
    c.backlog("a", True)
    assert not c.all_idle(wall=60)


def test_an_idle_tick_of_an_older_generation_still_holds_the_clock():
    from service.core.clock import PartitionClocks

    c = PartitionClocks(partitions=1)
    c.tick(0, 100, worker="a", generation=1, owned=6, total=6, idle=True)
    # b joins and reads half; a has not yet spoken in generation 2, its old partitions may have new events
    assert c.tick(0, 500, worker="b", generation=2, owned=3, total=6) == 100
    assert c.tick(0, 200, worker="a", generation=2, owned=3, total=6) == 200


def test_the_peak_is_the_highest_event_time_any_worker_read():
    from service.core.clock import PartitionClocks

    c = PartitionClocks(partitions=1)
    c.tick(0, 100, worker="a", generation=1, owned=3, total=6, peak=800)
    assert c.peak() == 800
    e = EventClock()
    e.observe("a", 500, wall=0)
    e.assigned(["b"], wall=1)
    assert e.peak() == 500  # also from a partition since given away


def test_a_tick_read_again_after_a_rebalance_is_ignored():
    from service.core.clock import PartitionClocks

    c = PartitionClocks(partitions=1)
    c.tick(0, 500, worker="a", generation=2, owned=3, total=3, idle=True, seq=7)
    assert c.tick(0, None, worker="a", generation=3, owned=3, total=3, seq=9) == 500
    # tick 8 (generation 2, idle) is delivered again from the committed offset: it must not count
    assert c.tick(0, 900, worker="a", generation=2, owned=3, total=3, idle=True, seq=8) == 500
    assert c.tick(0, 600, worker="a", generation=3, owned=3, total=3, seq=10) == 600


def test_after_a_rebalance_the_clock_waits_for_every_worker_of_the_new_generation():
    from service.core.clock import PartitionClocks

    c = PartitionClocks(partitions=1)
    assert c.tick(0, 100, worker="a", generation=1, owned=6, total=6, idle=True) == 100
    # b joins: a now reads 3; b's 3 may receive events while b is still starting
    assert c.tick(0, 900, worker="a", generation=2, owned=3, total=6, idle=True) == 100
    assert c.tick(0, 950, worker="a", generation=2, owned=3, total=6, idle=True) == 100
    assert c.tick(0, 300, worker="b", generation=2, owned=3, total=6) == 300


YEAR_2100 = 4102444800.0  # 2100-01-01T00:00:00Z
WALL = 1_795_000_000.0  # 2026-11-18
SKEW = 300.0


def test_the_event_clock_never_runs_more_than_the_skew_ahead_of_wall_time():
    c = EventClock(idle_seconds=5, max_ahead_seconds=SKEW)
    c.observe("a", YEAR_2100, wall=WALL)  # e.g. the last committed event read back after a restart
    assert c.now(wall=WALL) == WALL + SKEW
    assert c.peak() == WALL + SKEW
    c.observe("a", WALL + 10, wall=WALL + 60)
    assert c.now(wall=WALL + 60) == WALL + SKEW  # it does not go back either


def test_ticks_and_marks_from_a_worker_ahead_are_held_to_the_skew():
    p = PartitionClocks(1, max_ahead_seconds=SKEW)
    now = p.tick(0, YEAR_2100, "w", 1, 1, 1, peak=YEAR_2100, wall=YEAR_2100, seq=1, local_wall=WALL)
    assert now == WALL + SKEW
    assert p.peak() == WALL + SKEW
    assert p.mark(0, 0, YEAR_2100, local_wall=WALL) == WALL + SKEW
