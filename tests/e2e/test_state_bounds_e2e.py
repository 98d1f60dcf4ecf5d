"""A producer cannot put the worker in a restart loop by growing one subject's state.

Through the real broker: an account flooded with unallocated payments (long
event ids) reaches the state budget; the events past it are dead-lettered with
reason `state_too_large`, the worker keeps running, commits, and goes on
processing other subjects. Before, the state write failed at Kafka's record
limit and the worker exited (code 4) on every start.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from schemas import DeadLetter
from service.core.fingerprint import fingerprint

from .harness import Deployment
from .test_worker_e2e import MIN, iso, ticket

pytestmark = [pytest.mark.kafka]


def test_an_account_grown_past_the_state_budget_dead_letters_the_event_and_the_worker_goes_on(
        kafka_bootstrap, tmp_path):
    d = Deployment(kafka_bootstrap, tmp_path, {"RISK_CLOCK": "wall", "RISK_STATE_BUDGET_KIB": "32"})
    d.start_worker()
    d.wait_ready()
    try:
        now = time.time()
        n = 400  # about 200 bytes each: twice what 32 KiB holds
        for i in range(n):
            d.producer.send(d.topics["billing_events"], key=b"A1", value=json.dumps({
                "event_id": f"{'p' * 50}-{i:08d}", "type": "payment.received", "occurred_at": iso(now - 60),
                "account_id": "A1", "amount": "1.00"}).encode())
        d.producer.flush()
        letters = d.read("dead_letters", lambda rs: len(rs) >= 1)
        dl = DeadLetter.model_validate_json(letters[0].value)
        assert dl.reason == "state_too_large" and "account:A1" in dl.detail
        assert json.loads(base64.b64decode(dl.value_base64))["type"] == "payment.received"
        # the worker goes on: a ticket after the flood raises its warning, and everything is committed
        d.send("repair_tickets", "T-after", ticket("t-after", "ticket.created", now - 40 * MIN, "T-after",
                                                   district_id="north", area_type="urban", category="voltage",
                                                   priority="normal"))
        fp = fingerprint("repair.arrival_overdue", {"ticket_id": "T-after"})
        d.read("risk_warnings", lambda rs: any(r.key == fp.encode() for r in rs))
        assert d.caught_up(within=30)
        letters = d.read("dead_letters", lambda rs: len(rs) >= 1)
        refused = [DeadLetter.model_validate_json(r.value) for r in letters]
        assert all(x.reason == "state_too_large" for x in refused) and n / 4 < len(refused) < n, (len(refused), n, sorted({(x.reason, x.detail[:150]) for x in refused})[:5])
        assert d.proc.poll() is None, "the worker must keep running"
        assert "exiting with code 4" not in d.log()
    finally:
        d.close()
