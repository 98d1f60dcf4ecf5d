"""The SMS feed against the real broker: routed to the district's recipient
group, within SMS limits, never sent twice, even across a restart."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from schemas import Notification

from .harness import Deployment
from .test_worker_e2e import MIN, ticket

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
DISTRICTS = Path(__file__).parents[2] / "deploy" / "demo" / "districts.yaml"


def test_notifications_are_routed_short_and_never_repeated(kafka_bootstrap, tmp_path):
    d = Deployment(kafka_bootstrap, tmp_path, {"RISK_CLOCK": "wall", "RISK_DISTRICTS_FILE": str(DISTRICTS)})
    try:
        d.start_worker()
        d.wait_ready()
        now = time.time()
        for tid, district in (("T-n", "north"), ("T-e", "east"), ("T-x", "nowhere")):
            d.send("repair_tickets", tid, ticket(f"{tid}-c", "ticket.created", now - 200 * MIN, tid,
                                                 district_id=district, area_type="urban",
                                                 category="no_power", priority="normal"))
        d.send("repair_tickets", "T-n", ticket("T-n-a", "ticket.arrived", now, "T-n"))
        # T-n: raised, escalated x2, resolved; T-e and T-x: raised, escalated x2
        notes = d.read("risk_notifications", lambda rs: len(rs) >= 10)
        parsed = [Notification.model_validate_json(r.value) for r in notes]
        groups = {n.fingerprint: r.key.decode() for n, r in zip(parsed, notes)}
        assert {g for g in groups.values()} == {"ops-north", "ops-east", "ops-centre"}  # unknown district: default
        assert all(n.recipient_group == r.key.decode() for n, r in zip(parsed, notes))
        assert len({n.notification_id for n in parsed}) == len(parsed)
        assert sum(n.transition == "resolved" for n in parsed) == 1
        assert any("T-n" in n.text_en and "T-n" in n.text_zh for n in parsed)  # texts name the ticket

        d.stop_worker()
        d.start_worker()
        d.wait_ready()
        time.sleep(5)
        again = d.read("risk_notifications", lambda rs: True)
        assert len(again) == len(notes), "a restart must not re-send notifications"
    finally:
        d.close()


def test_rate_limit_folds_the_excess_into_one_summary(kafka_bootstrap, tmp_path):
    notify = tmp_path / "notify.yaml"
    notify.write_text("rate_limit: {max_messages: 3, window_seconds: 5}\n")
    d = Deployment(kafka_bootstrap, tmp_path, {"RISK_CLOCK": "wall", "RISK_DISTRICTS_FILE": str(DISTRICTS),
                                               "RISK_NOTIFY_FILE": str(notify)})
    try:
        d.start_worker()
        d.wait_ready()
        now = time.time()
        for i in range(6):  # six raises for ops-north inside one window
            tid = f"T-burst-{i}"
            d.send("repair_tickets", tid, ticket(f"{tid}-c", "ticket.created", now - 37 * MIN, tid,
                                                 district_id="north", area_type="urban",
                                                 category="no_power", priority="normal"))
        notes = d.read("risk_notifications", lambda rs: any(b"summary" in r.value for r in rs), timeout=60)
        parsed = [Notification.model_validate_json(r.value) for r in notes]
        singles = [n for n in parsed if n.kind == "change"]
        summaries = [n for n in parsed if n.kind == "summary"]
        assert len(singles) == 3 and len(summaries) == 1
        assert summaries[0].folded == 3 and summaries[0].recipient_group == "ops-north"
        assert "3" in summaries[0].text_en and "3" in summaries[0].text_zh
    finally:
        d.close()


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_rate_limit_holds_per_group_across_batches(kafka_bootstrap, tmp_path, store):
    """Two groups on different notify partitions (ops-north 2, ops-east 0), their raises
    interleaved so that each arrives in a batch of its own: every batch reads its group's
    state back from the table, written by an earlier batch. With rocksdb:// each partition
    is its own database, and Faust picks the one to read by the message it takes as current."""
    notify = tmp_path / "notify.yaml"
    notify.write_text("rate_limit: {max_messages: 3, window_seconds: 30}\n")
    d = Deployment(kafka_bootstrap, tmp_path, {"RISK_CLOCK": "wall", "RISK_DISTRICTS_FILE": str(DISTRICTS),
                                               "RISK_NOTIFY_FILE": str(notify), "RISK_STORE": store})
    try:
        d.start_worker()
        d.wait_ready()
        for i in range(6):
            for district in ("north", "east"):
                tid = f"T-{district}-{i}"
                # yellow at 36 min: raised (changed_at) 2 s ago, inside the group's window
                d.send("repair_tickets", tid, ticket(f"{tid}-c", "ticket.created", time.time() - 36 * MIN - 2, tid,
                                                     district_id=district, area_type="urban",
                                                     category="no_power", priority="normal"))
                time.sleep(0.4)
        notes = d.read("risk_notifications", lambda rs: sum(b'"summary"' in r.value for r in rs) >= 2, timeout=90)
        parsed = [Notification.model_validate_json(r.value) for r in notes]
        for group in ("ops-north", "ops-east"):
            mine = [n for n in parsed if n.recipient_group == group]
            assert [n.kind for n in mine] == ["change"] * 3 + ["summary"], (group, [n.kind for n in mine])
            assert mine[-1].folded == 3
    finally:
        d.close()
