"""The shell step by step, with in-memory parts: no Kafka (service/shell.py).

One test drives the app's own shell, on Faust's in-memory tables with the producer replaced."""

import asyncio
import json
import zlib
from types import SimpleNamespace

import pytest
from faust.types import TP
from schemas.events import parse_event
from service.batch import Batch
from service.core.clock import PartitionClocks
from service.core.engine import Engine
from service.core.subjects import routes
from service.core.timefmt import to_epoch, to_rfc3339
from service.shell import Shell
from tests.core.world import T0, rulebook

P = 4
HOME = {"outage:O1": 0, "district:D1": 1, "ticket:T1": 2, "district:D2": 3}
OUTAGE = {"type": "outage.started", "event_id": "e1", "outage_id": "O1", "district_id": "D1",
          "kind": "unplanned", "customers_affected": 500}
TICKET = {"type": "ticket.created", "event_id": "t1", "ticket_id": "T1", "district_id": "D2",
          "category": "no_power", "priority": "normal", "area_type": "urban"}


class Publisher:
    def __init__(self):
        self.sent, self.records, self.dead, self.acks = [], [], [], []

    async def warnings(self, key, partition, warnings, batch):
        self.sent += warnings

    async def events(self, partition, items):
        self.records.append((partition, [key for key, _, _ in items]))

    async def notes(self, batch):
        batch.notes.clear()

    async def dead_letter(self, source, reason, detail, key=None, value=None):
        self.dead.append((reason, key))

    async def ack_recorded(self, fingerprint, ack, partition):
        self.acks.append(fingerprint)


class Store(dict):
    def __init__(self):
        super().__init__()
        self.writes = []

    async def write(self, key, value, partition, batch):
        self.writes.append((key, partition))
        if value is None:
            self.pop(key, None)
        else:
            self[key] = value


def make(owned=range(P)):
    owned = set(owned)
    shell = Shell(Engine(rulebook()), Publisher(), Store(), PartitionClocks(P), P, HOME.__getitem__,
                  owns=owned.__contains__, wall=lambda: T0)
    return shell, owned


def run(coro):
    return asyncio.run(coro)


def test_a_derived_event_for_an_owned_partition_is_applied_in_process():
    shell, _ = make()
    batch = Batch()
    run(shell.on_input(["outage:O1"], OUTAGE, T0, batch))
    # the district heard of the outage at once: no work record carries it
    assert shell.current("district:D1") is not None
    run(shell.finish(batch))
    assert shell.publisher.records == []
    assert sorted(shell.store.writes) == [("district:D1", 1), ("outage:O1", 0)]
    assert shell.store["district:D1"]["p"] == 1


def test_a_derived_event_for_a_partition_owned_elsewhere_goes_as_one_work_record():
    shell, _ = make(owned={0})
    batch = Batch()
    run(shell.on_input(["outage:O1"], OUTAGE, T0, batch))
    assert shell.current("district:D1") is None
    run(shell.finish(batch))
    assert shell.publisher.records == [(1, ["district:D1"])]
    assert shell.store.writes == [("outage:O1", 0)]


def test_a_hot_key_is_written_once_per_batch_with_its_newest_state():
    shell, _ = make()
    batch = Batch()
    for n in range(5):
        run(shell.on_input([f"outage:O{n}"] if n else ["outage:O1"],
                           {**OUTAGE, "event_id": f"e{n}", "outage_id": f"O{n}" if n else "O1"}, T0 + n, batch))
    run(shell.finish(batch))
    assert [w for w in shell.store.writes if w[0] == "district:D1"] == [("district:D1", 1)]


HOME.update({f"outage:O{n}": 0 for n in range(2, 11)})


def test_a_hot_key_is_read_once_per_batch_and_its_events_applied_to_the_decoded_state():
    shell, _ = make()
    reads = []
    get = shell.store.get
    shell.store.get = lambda key: reads.append(key) or get(key)
    for round in range(2):
        batch = Batch()
        for n in range(1 + 5 * round, 6 + 5 * round):  # five outages of district D1 a batch
            run(shell.on_input([f"outage:O{n}"], {**OUTAGE, "event_id": f"e{n}", "outage_id": f"O{n}"}, T0 + n,
                               batch))
        run(shell.finish(batch))
    assert reads.count("district:D1") == 2  # once a batch, whatever number of events it received
    assert [w for w in shell.store.writes if w[0] == "district:D1"] == [("district:D1", 1)] * 2


def test_a_key_a_batch_is_writing_reads_as_its_newest_state_while_the_writes_wait():
    """A table write waits for the producer (its changelog record) before the next key is written.
    Meanwhile another agent's task (the clock's, the work topic's) may read a key of the batch: it
    must find the batch's state, not the one before (else it decides again what was just published)."""
    shell, _ = make()
    seen = {}

    class SlowStore(Store):
        """Keeps bytes, as RocksDB does (a dict store would keep the very object the engine goes on changing)."""

        async def write(self, key, value, partition, batch):
            await asyncio.sleep(0)  # the producer's buffer is full: other tasks run
            await super().write(key, None if value is None else json.dumps(value), partition, batch)

        def get(self, key):
            value = super().get(key)
            return None if value is None else json.loads(value)

    shell.store = SlowStore()

    async def other_task():
        for _ in range(3):  # while the writes wait
            for key in ("outage:O2", "district:D1"):
                seen.setdefault(key, []).append(shell.current(key))
            await asyncio.sleep(0)

    async def main():
        first = Batch()
        await shell.on_input(["outage:O1"], OUTAGE, T0, first)
        await shell.finish(first)
        batch = Batch()
        await shell.on_input(["outage:O2"], {**OUTAGE, "event_id": "e2", "outage_id": "O2"}, T0 + 60, batch)
        newest = {key: shell.current(key) for key in ("outage:O2", "district:D1")}
        assert newest["district:D1"] != shell.store.get("district:D1")  # the second outage changed the district
        await asyncio.gather(shell.finish(batch), other_task())
        return newest

    newest = run(main())
    assert set(seen) == {"outage:O2", "district:D1"}
    for key, states in seen.items():
        assert all(state == newest[key] for state in states), key


def test_a_partition_taken_away_mid_batch_gets_its_events_over_the_work_topic():
    shell, owned = make()
    batch = Batch()
    run(shell.on_input(["outage:O1"], OUTAGE, T0, batch))
    owned.discard(1)  # a rebalance gives district D1's partition to another worker before the batch ends
    run(shell.finish(batch))
    assert shell.publisher.records == [(1, ["district:D1"])]  # its new owner applies it
    assert shell.store.writes == [("outage:O1", 0)]  # and restores no state of ours over its own


def test_a_tick_evaluates_due_keys_then_marks_its_partition_done():
    shell, _ = make()
    batch = Batch()
    run(shell.on_input(["ticket:T1"], TICKET, T0, batch))
    run(shell.finish(batch))
    assert shell.own_marks() == {}
    tick = {"now": T0 + 200 * 60, "worker": "w", "gen": 1, "owned": 1, "total": 1, "seq": 1, "wall": T0}
    batch = Batch()
    run(shell.on_tick(2, tick, batch))
    run(shell.finish(batch))
    assert [w["transition"] for w in shell.publisher.sent] == ["raised", "escalated", "escalated"]
    assert shell.own_marks() == {2: T0 + 200 * 60}


def test_marks_carried_by_one_tick_record_move_the_aggregate_clock():
    # every source partition's "done up to" rides on one tick: no mark record per pair of partitions
    shell, _ = make(owned={3})
    marks = {str(p): T0 + 60 for p in range(P)}
    tick = {"now": None, "worker": "w", "gen": 1, "owned": 1, "total": 1, "seq": 1, "wall": T0, "marks": marks}
    run(shell.on_tick(3, tick, Batch()))
    assert shell.clocks.aggregate_now(3) == T0 + 60
    assert shell.clocks.aggregate_now(2) == float("-inf")


def test_marks_speak_only_for_partitions_still_owned():
    shell, owned = make()
    shell.done.update({0: T0, 1: T0})
    owned.discard(1)
    shell.forget_partitions()
    assert shell.own_marks() == {0: T0}


def test_a_failing_derived_event_is_dead_lettered_alone():
    shell, _ = make()

    def broken(key, *args, **kwargs):
        if key.startswith("district:"):
            raise RuntimeError("boom")
        return on_event(key, *args, **kwargs)

    on_event = shell.engine.on_event
    shell.engine.on_event = broken
    batch = Batch()
    run(shell.on_input(["outage:O1"], OUTAGE, T0, batch))
    run(shell.finish(batch))
    assert shell.publisher.dead == [("processing_error", b"district:D1")]
    assert ("outage:O1", 0) in shell.store.writes


def test_notify_steps_send_then_hand_back_one_entry_per_group():
    from service.core.notify import Notifier, NotifyConfig
    from service.shell import NotifyShell
    from tests.service.test_outputs import a_warning

    sent = []

    async def send(group, partition, outcome):
        sent.extend(outcome.notifications)
        return {"p": partition, "s": outcome.state}

    groups = {}
    notify = NotifyShell(Notifier(NotifyConfig(default_group="ops-centre"), {}), send, groups)
    changed = {}
    run(notify.on_warnings("ops-centre", 2, [a_warning()], changed, "message"))
    assert len(sent) == 1
    [(group, entry, source)] = list(notify.to_write(changed))
    assert (group, entry["p"], source) == ("ops-centre", 2, "message")
    groups[group] = entry
    changed = {}
    run(notify.on_tick(2, T0, changed, "tick"))
    assert changed == {}  # nothing held back was due: nothing to write


def test_an_input_event_its_subject_cannot_take_raises_for_the_caller_to_dead_letter_it_whole():
    # the adapter dead-letters the input message as it came (its own key and bytes), not a re-encoding
    shell, _ = make()

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    shell.engine.on_event = broken
    try:
        run(shell.on_input(["outage:O1"], OUTAGE, T0, Batch()))
    except RuntimeError:
        pass
    else:
        raise AssertionError("the input event's failure was swallowed")
    assert shell.publisher.dead == []


# --- storm mode decided on the clock's batch (a replay read at once) -------------------------
#
# The path of tests/e2e/test_board_e2e.py::test_a_replayed_stream_is_measured_on_event_time:
# three outages take 12 % of east's customers off supply and two rural tickets are created at
# 09:30; the clock timer's batch (no message in it) decides east's storm mode, and a later one
# fires both tickets' deadlines (10:42). East's warning must be held back, west's not.

REPLAY_T0 = T0 - 30 * 86400.0
REPLAY_DISTRICTS = {"districts": [
    {"district_id": "east", "name": "East Plain", "area_type": "rural", "customers_served": 10000,
     "recipient_group": "ops-east"},
    {"district_id": "west", "name": "West Valley", "area_type": "rural", "customers_served": 50000,
     "recipient_group": "ops-west"}]}


def _replay_events() -> list[dict]:
    m = 60.0
    events = [{"type": "outage.started", "event_id": f"o{i}", "occurred_at": to_rfc3339(REPLAY_T0 + at * m),
               "outage_id": f"O-{i}", "kind": "unplanned", "district_id": "east", "feeder_id": f"F-{i}",
               "area_type": "rural", "customers_affected": 400} for i, at in enumerate((5, 10, 15))]
    events += [{"type": "ticket.created", "event_id": f"c-{tid}", "occurred_at": to_rfc3339(REPLAY_T0 + 90 * m),
                "ticket_id": tid, "district_id": district, "area_type": "rural", "category": "no_power",
                "priority": "normal"} for tid, district in (("T-east", "east"), ("T-west", "west"))]
    return events


class _Event:
    """A Faust event as the batch sees one (Faust keeps a weak reference to the current one)."""

    def __init__(self, message) -> None:
        self.message = message


async def _ingest(shell, events, one_by_one: bool = False) -> None:
    """What the ingest agent does with input messages (service/worker/ingest.py `admit`): in one batch,
    or each in a batch of its own, entered as a message of the partition its producer's key puts it in."""
    batch = Batch()
    for offset, event in enumerate(events):
        body = parse_event(json.dumps(event).encode()).model_dump(mode="json", exclude_none=True)
        keys = routes(body)
        if one_by_one:
            batch = Batch()
            message = SimpleNamespace(topic="input", partition=shell.home(keys[0]), offset=offset, key=None,
                                      value=b"")
            batch.enter(_Event(message))
        await shell.on_input(keys, body, to_epoch(body["occurred_at"]), batch)
        if one_by_one:
            await shell.finish(batch)
    await shell.finish(batch)


async def _clock_tick(shell, now: float, seq: int, partitions: int) -> None:
    """What the clock timer does on a worker owning every partition (service/worker/clock.py
    `ClockTimer.tick`): one batch with no message in it, each partition ticked, then the marks of all applied."""
    tick = {"kind": "tick", "now": now, "idle": True, "peak": now, "worker": "w", "seq": seq, "wall": now,
            "gen": 1, "owned": 1, "total": 1}
    batch = Batch()
    for p in range(partitions):
        await shell.on_tick(p, tick, batch)
    marks = shell.own_marks()
    for p in range(partitions):
        await shell.on_marks(p, marks, batch)
    await shell.finish(batch)


async def _replay(shell, partitions: int, sent: list[dict], one_by_one: bool = False) -> dict[str, dict]:
    await _ingest(shell, _replay_events(), one_by_one)
    await _clock_tick(shell, REPLAY_T0 + 90 * 60, 1, partitions)
    storm = [w for w in sent if w["rule_id"] == "reliability.storm_mode"]
    assert [w["status"] for w in storm] == ["firing"], storm  # decided on the clock's batch
    await _clock_tick(shell, REPLAY_T0 + 200 * 60, 2, partitions)
    return {w["scope"]["ticket_id"]: w for w in sent
            if w["rule_id"] == "repair.arrival_overdue" and w["transition"] == "raised"}


def test_storm_mode_decided_on_the_clocks_batch_holds_back_a_later_ticket_warning_of_its_district():
    from service.core.reference import load_reference
    from service.shell import MemoryStorm

    storm = MemoryStorm()
    engine = Engine(rulebook(), districts=load_reference(REPLAY_DISTRICTS, "test"), storm_districts=storm)
    shell = Shell(engine, Publisher(), Store(), PartitionClocks(P), P, lambda key: zlib.crc32(key.encode()) % P,
                  owns=lambda p: True, wall=lambda: T0, storm=storm)
    raised = run(_replay(shell, P, shell.publisher.sent))
    assert storm() == {"east"}
    assert raised["T-east"]["suppressed_by"] == ["storm_mode"]
    assert not raised["T-west"]["suppressed"]


@pytest.mark.parametrize("store,one_by_one", [("memory://", False), ("rocksdb://", True)],
                         ids=["memory", "rocksdb-a-batch-per-outage"])
async def test_the_apps_storm_table_is_written_from_the_clocks_batch(tmp_path, monkeypatch, store, one_by_one):
    """The same with the app's own parts (Faust's tables, no Kafka): a table written from the clock
    timer's batch, where no message is current, must still hold storm mode.

    On rocksdb:// each outage comes in a batch of its own, as a message of its outage's partition:
    the district's state, applied in process and written by the batch before, is in its own
    partition's database, not that message's, and must be read from there."""
    import yaml

    from service.app import create_app
    from service.config import load_settings
    from service.faust_patches import speed
    from service.worker import clock, notify, publish

    published = []

    async def send_to(topic, **kw):  # the producer: what the app would send, kept here
        if topic.get_topic_name() == settings.topics.risk_warnings:
            published.append(json.loads(kw["value"]))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def send_direct(app, topic, key, value, partition=None, headers=None):  # table changelogs
        done = asyncio.get_running_loop().create_future()
        done.set_result(SimpleNamespace(offset=0))  # RocksDB remembers the offset of what it wrote
        return done

    districts = tmp_path / "districts.yaml"
    districts.write_text(yaml.safe_dump(REPLAY_DISTRICTS))
    settings = load_settings({"RISK_DATA_DIR": str(tmp_path), "KAFKA_BOOTSTRAP": "127.0.0.1:1",
                              "RISK_CLOCK": "event", "RISK_DISTRICTS_FILE": str(districts), "RISK_STORE": store})
    for module in (publish, clock, notify):
        monkeypatch.setattr(module, "send_to", send_to)
    monkeypatch.setattr(speed, "send_direct", send_direct)
    app = create_app(settings, loop=asyncio.get_running_loop())
    shell = app.risk["shell"]
    monkeypatch.setattr(shell, "owns", lambda p: True)  # this worker owns every partition
    changelog = app.risk["state"].changelog_topic_name
    monkeypatch.setattr(app.assignor, "assigned_actives",
                        lambda: {TP(changelog, p) for p in range(settings.partitions)})
    raised = await _replay(shell, settings.partitions, published, one_by_one)
    assert raised["T-east"]["suppressed_by"] == ["storm_mode"]
    assert not raised["T-west"]["suppressed"]
