"""RocksDB state written by the worker: each partition's database remembers how far the
changelog it holds goes, so a restart reads only what came after (bench/restart.py)."""

from __future__ import annotations

import time

import pytest

from .harness import Deployment
from .test_worker_e2e import ticket

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

OFFSET_KEY = b"__faust\0offset__"  # faust.stores.rocksdb.Store.offset_key


def test_each_state_database_remembers_the_changelog_offset_it_holds(kafka_bootstrap, tmp_path):
    rocksdict = pytest.importorskip("rocksdict")
    from kafka import KafkaConsumer, TopicPartition

    d = Deployment(kafka_bootstrap, tmp_path, {"RISK_CLOCK": "wall", "RISK_STORE": "rocksdb://"})
    try:
        d.start_worker()
        d.wait_ready()
        now = time.time()
        for i in range(40):
            d.send("repair_tickets", f"T-{i}", ticket(f"e{i}", "ticket.created", now, f"T-{i}", district_id="north",
                                                     area_type="urban", category="no_power", priority="normal"))
        deadline = time.time() + 60
        while not d.caught_up(work=True) and time.time() < deadline:
            time.sleep(0.5)
        assert d.caught_up(work=True)
    finally:
        d.close()  # a clean stop: the databases are closed and can be opened here

    changelog = f"{d.app_id}-state-changelog"
    consumer = KafkaConsumer(bootstrap_servers=d.bootstrap)
    try:
        parts = consumer.partitions_for_topic(changelog)
        ends = consumer.end_offsets([TopicPartition(changelog, p) for p in parts])
    finally:
        consumer.close()
    written = {tp.partition: end for tp, end in ends.items() if end}
    assert written, "nothing reached the state changelog"
    paths = {int(p.name.rsplit("-", 1)[1].split(".")[0]): p for p in (tmp_path / f"data-{d.tag}").rglob("state-*.db")}
    for partition, end in written.items():
        db = rocksdict.Rdict(str(paths[partition]), access_type=rocksdict.AccessType.read_only())
        try:
            assert db.get(OFFSET_KEY) == str(end - 1).encode(), f"state partition {partition}"
            assert sum(1 for k in db.keys() if k != OFFSET_KEY) > 0
        finally:
            db.close()
