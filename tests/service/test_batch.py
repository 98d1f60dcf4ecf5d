"""The batch bookkeeping the Faust shell relies on: newest state wins, one write per key."""

from service.batch import Batch, PendingStates


def test_reads_see_the_pending_state_before_the_table():
    table = {"ticket:a": {"v": 1}, "ticket:b": {"v": 1}}
    pending = PendingStates()
    pending.put("ticket:a", {"v": 2}, 3)
    pending.put("ticket:b", None, 3)  # finished: to be deleted
    assert pending.get("ticket:a", table) == {"v": 2}
    assert pending.get("ticket:b", table) is None
    assert pending.get("ticket:c", table) is None
    assert pending.get("ticket:c", {"ticket:c": {"v": 9}}) == {"v": 9}


def test_take_writes_each_key_once_with_its_newest_state_and_partition():
    pending = PendingStates()
    for v in range(5):
        pending.put("district:D1", {"v": v}, 2)
    pending.put("ticket:a", {"v": 1}, 5)
    batch = Batch()
    batch.touched.update(dict.fromkeys(["district:D1", "ticket:a", "district:D1"]))
    assert pending.take(batch.touched) == [("district:D1", {"v": 4}, 2), ("ticket:a", {"v": 1}, 5)]
    assert len(pending) == 0
    # a key another batch has written meanwhile is not written again
    assert pending.take(["ticket:a"]) == []


def test_newest_is_what_a_rebuild_must_see():
    # A key applied but not yet written is in flight: a rebuild reading only the
    # table would miss its deadline (a new key) or use an old one.
    table = {"ticket:old": {"p": 1, "v": 1}, "ticket:gone": {"p": 1}, "ticket:same": {"p": 2}}
    pending = PendingStates()
    pending.put("ticket:old", {"p": 1, "v": 2}, 1)
    pending.put("ticket:gone", None, 1)
    pending.put("ticket:new", {"p": 4}, 4)
    assert dict(pending.newest(table)) == {
        "ticket:same": {"p": 2}, "ticket:old": {"p": 1, "v": 2}, "ticket:gone": None, "ticket:new": {"p": 4}}


def test_undo_restores_what_was_there_unless_a_newer_state_came():
    table = {"ticket:a": {"v": 0}}
    pending = PendingStates()
    first = {"v": 1}
    before = pending.put("ticket:a", first, 0)
    pending.undo("ticket:a", first, before)
    assert "ticket:a" not in pending and pending.get("ticket:a", table) == {"v": 0}

    kept = {"v": 1}
    pending.put("ticket:a", kept, 0)
    failed = {"v": 2}
    before = pending.put("ticket:a", failed, 0)
    pending.undo("ticket:a", failed, before)
    assert pending.get("ticket:a", table) is kept

    newer = {"v": 3}
    failed = {"v": 4}
    before = pending.put("ticket:a", failed, 0)
    pending.put("ticket:a", newer, 0)  # another agent applied a newer state meanwhile
    pending.undo("ticket:a", failed, before)
    assert pending.get("ticket:a", table) is newer


def test_outbox_groups_derived_events_by_partition_in_order_and_empties():
    batch = Batch()
    batch.derive(3, "district:D1", 10.0, {"n": 1})
    batch.derive(1, "staff:S1", 11.0, {"n": 2})
    batch.derive(3, "district:D1", 12.0, {"n": 3})
    assert batch.take_outbox() == [
        (3, [["district:D1", 10.0, {"n": 1}], ["district:D1", 12.0, {"n": 3}]]),
        (1, [["staff:S1", 11.0, {"n": 2}]]),
    ]
    assert batch.take_outbox() == []


def test_batch_records_are_cut_to_fit_kafka_in_order():
    import orjson

    from service.batch import chunks

    items = [["district:D1", float(i), {"pad": "x" * (50 + 40 * (i % 7))}] for i in range(200)]
    parts = list(chunks(items, budget=2000))
    assert [i for part in parts for i in part] == items
    assert len(parts) > 1 and all(part for part in parts)
    assert all(len(orjson.dumps(part)) <= 2000 for part in parts)
    big = ["staff:S1", 1.0, {"pad": "y" * 5000}]
    assert list(chunks([items[0], big, items[1]], budget=2000)) == [[items[0]], [big], [items[1]]]
    assert list(chunks([])) == []
    assert list(chunks(items[:3], budget=2000)) == [items[:3]]  # what fits goes as one record
