"""The operations centre's API against the real broker and worker: list firing
warnings, acknowledge one through warning-acks, watch the other escalate; every
read endpoint without and with each kind of token; Faust's own pages off;
account ids pseudonymised for people and kept on the topic."""

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
TOKEN = "test-token-0123456789"  # the shared acknowledging token (RISK_API_TOKEN)
READ = "read-token-0123456789"  # the shared read-only token (RISK_API_READ_TOKEN)
OFFICER = "officer-7-token-0123456789"  # officer-7's own acknowledging token (RISK_API_TOKENS_FILE)
VIEWER = "viewer-token-0123456789"  # a person's read-only token


def call(d, method, path, body=None, token=OFFICER, raw=None, headers=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(f"http://127.0.0.1:{d.port}{path}", data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body or b"{}")
        except ValueError:
            return e.code, {"raw": body.decode(errors="replace")}


@pytest.fixture
def deployment(kafka_bootstrap, tmp_path):
    rules = yaml.safe_load(DEFAULT_RULES.read_text())
    rules["rules"]["repair.arrival_overdue"]["escalate_after_minutes"] = 0.5
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(yaml.safe_dump({"officer-7": {"token": OFFICER, "role": "ack"},
                                      "viewer": {"token": VIEWER, "role": "read"}}))
    d = Deployment(kafka_bootstrap, tmp_path, {"RISK_CLOCK": "wall", "RISK_RULES_FILE": str(path),
                                               "RISK_API_TOKEN": TOKEN, "RISK_API_READ_TOKEN": READ,
                                               "RISK_API_TOKENS_FILE": str(tokens),
                                               "RISK_PSEUDONYM_KEY": "test-pseudonym-key-0123"})
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

    status, body = call(d, "POST", f"/api/warnings/{fp_ack}/ack", {"note": "crew called"})
    assert status == 202 and body["accepted"] and body["acknowledged_by"] == "officer-7"

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
    assert json.loads(acks[0].value)["acknowledged_by"] == "officer-7"


def test_api_refuses_bad_writes(deployment):
    d = deployment
    fp = "0" * 32
    assert call(d, "POST", f"/api/warnings/{fp}/ack", {}, token=None)[0] == 401
    assert call(d, "POST", f"/api/warnings/{fp}/ack", {}, token="wrong-token-0123456789")[0] == 401
    for read_only in (READ, VIEWER):
        status, body = call(d, "POST", f"/api/warnings/{fp}/ack", {}, token=read_only)
        assert status == 403 and "read" in body["error"]
    assert call(d, "POST", f"/api/warnings/{fp}/ack", raw=b"{" + b" " * 5000 + b"}")[0] == 413
    status, body = call(d, "POST", f"/api/warnings/{fp}/ack", raw=b"not json")
    assert status == 400
    # who and when are the server's: someone else's name, or a time, is refused
    status, body = call(d, "POST", f"/api/warnings/{fp}/ack", {"acknowledged_by": "officer-9"})
    assert status == 403 and "officer-7" in body["error"]
    status, body = call(d, "POST", f"/api/warnings/{fp}/ack", {"acknowledged_at": "2020-01-01T00:00:00Z"})
    assert status == 400 and "acknowledged_at" in body["error"]
    # the shared token has no person: its acknowledgements say so (no proxy header is trusted here)
    status, body = call(d, "POST", f"/api/warnings/{fp}/ack", {}, token=TOKEN,
                        headers={"X-Forwarded-User": "officer-9"})
    assert status == 202 and body["acknowledged_by"] == "api-token"
    assert call(d, "GET", "/api/warnings?severity=purple")[0] == 400
    # written to warning-acks around the API, dated in the future: refused, to the dead letters
    d.send("warning_acks", fp, {"ack_id": "future-1", "fingerprint": fp, "acknowledged_by": "officer-9",
                                "acknowledged_at": "2100-01-01T00:00:00Z"})
    dead = d.read("dead_letters", lambda rs: any(b"future-1" in r.value for r in rs))
    (letter,) = [json.loads(r.value) for r in dead if b"future-1" in r.value]
    assert letter["reason"] == "invalid_value" and "in the future" in letter["detail"]
    log = d.log()
    assert all(t not in log for t in (TOKEN, READ, OFFICER, VIEWER))  # the secrets never reach the log


def get(d, path, token=None, cookie=None):
    req = urllib.request.Request(f"http://127.0.0.1:{d.port}{path}")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if cookie:
        req.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.readline() if path == "/board/events" else r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_every_read_needs_a_credential_and_faust_pages_are_off(deployment):
    d = deployment
    reads = ["/api/warnings", "/board/history", "/board/events"]
    for path in reads:
        assert get(d, path)[0] == 401, path
        assert get(d, path, token="wrong-token-0123456789")[0] == 401, path
        for token in (READ, VIEWER, TOKEN, OFFICER):
            status, headers, body = get(d, path, token=token)
            assert status == 200, (path, token)
    # the page itself is code, no data: open, so it can show its sign-in form
    assert get(d, "/board")[0] == 200 and get(d, "/board/static/board.js")[0] == 200
    # the board's session cookie: set by a token, reads, never writes
    req = urllib.request.Request(f"http://127.0.0.1:{d.port}/board/login", data=b"", method="POST")
    req.add_header("Authorization", f"Bearer {VIEWER}")
    with urllib.request.urlopen(req, timeout=10) as r:
        who = json.loads(r.read())
        set_cookie = r.headers["Set-Cookie"]
    assert who == {"role": "read", "person": "viewer"}
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie and VIEWER not in set_cookie
    cookie = set_cookie.split(";", 1)[0]
    for path in reads:
        assert get(d, path, cookie=cookie)[0] == 200, path
    assert get(d, "/board/history", cookie=cookie[:-2] + "xx")[0] == 401
    # what the page may do: from a cookie it signed in with, or from a header a proxy added
    assert json.loads(get(d, "/board/whoami", cookie=cookie)[2]) == {"role": "read", "person": "viewer", "via": "cookie"}
    assert json.loads(get(d, "/board/whoami", token=TOKEN)[2]) == {"role": "ack", "person": "api-token", "via": "header"}
    assert get(d, "/board/whoami")[0] == 401
    assert call(d, "POST", f"/api/warnings/{'0' * 32}/ack", {}, token=None, headers={"Cookie": cookie})[0] == 401
    # Faust's own pages: an account's stored state and the cluster's layout are not served
    for path in ("/table/", "/table/state/", "/table/state/account:A1/", "/router/", "/router/state/account:A1/",
                 "/graph/", "/assignment/", "/performance/"):
        assert get(d, path)[0] == 404, path
        assert get(d, path, token=TOKEN)[0] == 404, path
    # probes and Prometheus stay open
    assert get(d, "/healthz")[0] == 200 and get(d, "/metrics")[0] == 200


def test_account_ids_are_pseudonymised_for_people_and_real_on_the_topic(deployment):
    from service.privacy import Pseudonyms

    d = deployment
    account = "ACCT-991723"
    now = time.time()
    due = time.strftime("%Y-%m-%d", time.gmtime(now + 20 * 86400))
    d.send("billing_events", account, {"event_id": "pb1", "type": "bill.issued", "occurred_at": _iso(now - 60),
                                       "account_id": account, "bill_id": f"B-{account}", "district_id": "east",
                                       "customer_class": "industrial", "amount": "200000.00",
                                       "due_date": due, "period": time.strftime("%Y-%m", time.gmtime(now))})
    d.send("billing_events", account, {"event_id": "pb2", "type": "account.risk_flagged", "occurred_at": _iso(now),
                                       "account_id": account, "flag": "bankruptcy"})
    fp = fingerprint("billing.flagged_arrears", {"account_id": account})
    (published,) = warnings_for(d.read("risk_warnings", lambda rs: warnings_for(rs, fp)), fp)[:1]
    assert published["scope"]["account_id"] == account  # the contract: downstream services need the id

    alias = Pseudonyms(b"test-pseudonym-key-0123").of("account_id", account)
    deadline = time.time() + 20
    while time.time() < deadline:
        status, listed = call(d, "GET", "/api/warnings?rule=billing.flagged_arrears", token=READ)
        if listed.get("count"):
            break
        time.sleep(0.3)
    (shown,) = listed["warnings"]
    assert shown["scope"]["account_id"] == alias and alias in shown["summary"]
    assert account not in json.dumps(shown, ensure_ascii=False)
    deadline = time.time() + 20
    while time.time() < deadline:
        history = get(d, "/board/history", token=READ)[2].decode()
        if fp in history:
            break
        time.sleep(0.5)
    assert fp in history and alias in history and account not in history
    for path in ("/metrics", "/healthz"):
        assert account not in get(d, path)[2].decode()
    assert account not in d.log() and alias in d.log()


def _iso(ts):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).isoformat()
