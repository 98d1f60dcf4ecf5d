"""The operations centre's API against the real broker and worker: list firing
warnings, acknowledge one through warning-acks, watch the other escalate."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
import yaml

from service.config import DEFAULT_RULES
from service.core.fingerprint import fingerprint

from .harness import Deployment
from .test_worker_e2e import MIN, ticket, warnings_for

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
TOKEN = "test-token-0123456789"


def call(d, method, path, body=None, token=TOKEN, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(f"http://127.0.0.1:{d.port}{path}", data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


@pytest.fixture
def deployment(kafka_bootstrap, tmp_path):
    rules = yaml.safe_load(DEFAULT_RULES.read_text())
    rules["rules"]["repair.arrival_overdue"]["escalate_after_minutes"] = 0.5
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    d = Deployment(kafka_bootstrap, tmp_path, {"RISK_CLOCK": "wall", "RISK_RULES_FILE": str(path),
                                               "RISK_API_TOKEN": TOKEN})
    d.start_worker()
    d.wait_ready()
    yield d
    d.close()


def test_acknowledged_warning_stays_unacknowledged_one_escalates(deployment):
    d = deployment
    created = time.time() - 36 * MIN - 5  # yellow 5 s ago; escalation due 25 s from now
    for tid in ("T-ack", "T-ignored"):
        d.send("repair_tickets", tid, ticket(f"{tid}-c", "ticket.created", created, tid, district_id="north",
                                             area_type="urban", category="no_power", priority="normal"))
    fp_ack = fingerprint("repair.arrival_overdue", {"ticket_id": "T-ack"})
    fp_ignored = fingerprint("repair.arrival_overdue", {"ticket_id": "T-ignored"})
    d.read("risk_warnings", lambda rs: warnings_for(rs, fp_ack) and warnings_for(rs, fp_ignored))

    deadline = time.time() + 20
    while time.time() < deadline:
        status, listed = call(d, "GET", "/api/warnings?district=north&rule=repair.arrival_overdue")
        if status == 200 and listed["count"] == 2:
            break
        time.sleep(0.3)
    assert {w["fingerprint"] for w in listed["warnings"]} == {fp_ack, fp_ignored}
    assert call(d, "GET", "/api/warnings?district=south")[1]["count"] == 0

    status, body = call(d, "POST", f"/api/warnings/{fp_ack}/ack", {"acknowledged_by": "officer-7", "note": "crew called"})
    assert status == 202 and body["accepted"]

    records = d.read("risk_warnings", lambda rs: len(warnings_for(rs, fp_ignored)) >= 2, timeout=60)
    ignored = warnings_for(records, fp_ignored)
    assert [(w["transition"], w["severity"]) for w in ignored[:2]] == [("raised", "yellow"), ("escalated", "orange")]
    assert ignored[1]["escalation_reason"] == "unacknowledged"
    assert [w["transition"] for w in warnings_for(records, fp_ack)] == ["raised"]  # acknowledged: no escalation

    acked = {w["fingerprint"]: w for w in call(d, "GET", "/api/warnings?district=north")[1]["warnings"]}
    assert acked[fp_ack]["acknowledged"] and acked[fp_ack]["ack"]["by"] == "officer-7"
    assert not acked[fp_ignored]["acknowledged"]
    acks = d.read("warning_acks", lambda rs: len(rs) >= 1)
    assert json.loads(acks[0].value)["fingerprint"] == fp_ack and acks[0].key == fp_ack.encode()


def test_api_refuses_bad_writes(deployment):
    d = deployment
    fp = "0" * 32
    assert call(d, "POST", f"/api/warnings/{fp}/ack", {"acknowledged_by": "x"}, token=None)[0] == 401
    assert call(d, "POST", f"/api/warnings/{fp}/ack", {"acknowledged_by": "x"}, token="wrong")[0] == 401
    assert call(d, "POST", f"/api/warnings/{fp}/ack", raw=b"{" + b" " * 5000 + b"}")[0] == 413
    status, body = call(d, "POST", f"/api/warnings/{fp}/ack", raw=b"not json")
    assert status == 400
    status, body = call(d, "POST", f"/api/warnings/{fp}/ack", {"acknowledged_by": "x" * 65})
    assert status == 400 and "acknowledged_by" in body["error"]
    assert call(d, "GET", "/api/warnings?severity=purple")[0] == 400
    assert TOKEN not in d.log()  # the secret never reaches the log
