import random

from service.core.wakeups import COMPACT_SLACK, Wakeups


def test_due_returns_each_due_key_once_by_kind():
    w = Wakeups()
    w.load(0, ["ticket:a", "district:d"])
    assert w.due(0, 0.0, aggregates=False) == ["ticket:a"]
    assert w.due(0, 0.0, aggregates=True) == ["district:d"]
    assert w.due(0, 0.0, aggregates=False) == []  # forgotten until set again
    w.set(0, "ticket:a", 10.0)
    w.set(0, "ticket:b", 5.0)
    assert w.due(0, 4.9, aggregates=False) == []
    assert w.due(0, 10.0, aggregates=False) == ["ticket:b", "ticket:a"]


def test_a_moved_or_cleared_time_is_not_reported_at_the_old_time():
    w = Wakeups()
    w.load(1, [])
    w.set(1, "ticket:a", 5.0)
    w.set(1, "ticket:a", 50.0)
    w.set(1, "ticket:b", 5.0)
    w.set(1, "ticket:b", None)
    assert w.due(1, 10.0, aggregates=False) == []
    assert w.due(1, 50.0, aggregates=False) == ["ticket:a"]


def test_unloaded_partitions_ignore_sets_and_report_nothing():
    w = Wakeups()
    w.set(3, "ticket:a", 1.0)
    assert not w.known(3)
    assert w.due(3, 10.0, aggregates=False) == []


def test_matches_a_full_scan_under_random_updates_and_stays_compact():
    rng = random.Random(7)
    w = Wakeups()
    w.load(0, [])
    truth: dict[str, float] = {}
    now = 0.0
    for step in range(20000):
        key = f"{rng.choice(['ticket', 'district'])}:{rng.randrange(300)}"
        t = None if rng.random() < 0.1 else now + rng.uniform(0, 100)
        w.set(0, key, t)
        if t is None:
            truth.pop(key, None)
        else:
            truth[key] = t
        if step % 50 == 0:
            now += 10
            for aggregates in (False, True):
                expected = sorted(k for k, at in truth.items()
                                  if at <= now and k.startswith("district") == aggregates)
                got = w.due(0, now, aggregates)
                assert sorted(got) == expected
                for k in got:
                    del truth[k]
    heaps = w._by_partition[0]
    assert all(len(h.heap) <= 2 * len(h.at) + COMPACT_SLACK for h in heaps)
