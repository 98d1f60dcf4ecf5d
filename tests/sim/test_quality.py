"""The quality metrics on a tiny hand-made example."""

from __future__ import annotations

import json

from service.core.timefmt import to_epoch, to_rfc3339
from service.sim import quality
from service.sim.cli import main

T = to_epoch("2026-03-02T08:00:00+00:00")


def w(rule, scope, fired, transition="raised", detected=None):
    msg = {"rule_id": rule, "scope": scope, "fingerprint": f"{rule}|{sorted(scope.items())}",
           "transition": transition, "status": "resolved" if transition == "resolved" else "firing",
           "severity": "yellow", "first_fired_at": to_rfc3339(T + fired), "changed_at": to_rfc3339(T + fired)}
    if detected is not None:
        msg["detected_at"] = to_rfc3339(T + detected)
    return msg


TRUTH = {"scenario": "tiny", "quiet_districts": ["hills"], "end_epoch": T + 7200, "expected": [
    {"rule_id": "a", "scope": {"ticket_id": "t1"}, "district_id": "north", "earliest": T, "tolerance_s": 60},
    {"rule_id": "a", "scope": {"ticket_id": "t2"}, "district_id": "north", "earliest": T + 600, "tolerance_s": 60},
    {"rule_id": "b", "scope": {"district_id": "north"}, "district_id": "north", "earliest": T + 300,
     "tolerance_s": 300},
]}
WARNINGS = [
    w("a", {"ticket_id": "t1", "district_id": "north"}, 0, detected=60),  # exact, seen one tick later
    w("a", {"ticket_id": "t1", "district_id": "north"}, 900, "resolved"),
    w("a", {"ticket_id": "t9", "district_id": "north"}, 100),  # false alarm
    w("b", {"district_id": "north"}, 600),  # five minutes late
    w("b", {"district_id": "north"}, 1200),  # raised again: same incident, still true
    w("c", {"district_id": "hills"}, 50),  # in a quiet district
]


def test_precision_recall_and_delay_per_rule():
    r = quality.evaluate(TRUTH, WARNINGS)
    a, b, c = r["rules"]["a"], r["rules"]["b"], r["rules"]["c"]
    assert (a["expected"], a["detected"], a["raised"], a["raised_true"]) == (2, 1, 2, 1)
    assert a["recall"] == 0.5 and a["precision"] == 0.5
    assert a["delay_min"]["max"] == 0.0 and a["latency_min"]["max"] == 1.0
    assert a["missed"] == [{"scope": {"ticket_id": "t2"}, "earliest_at": None}]
    assert b["recall"] == 1.0 and b["precision"] == 1.0 and b["delay_min"]["max"] == 5.0
    assert b["within_tolerance"] == 1
    assert c["expected"] == 0 and c["recall"] is None and c["precision"] == 0.0
    assert r["overall"]["recall"] == 2 / 3 and r["overall"]["precision"] == 3 / 5
    assert [q["rule_id"] for q in r["quiet_district_warnings"]] == ["c"]
    text = quality.table(r)
    assert "warnings in quiet districts: 1" in text and "missed: 1" in text


def test_quality_command_writes_json_and_png(tmp_path):
    truth, warnings = tmp_path / "truth.json", tmp_path / "warnings.jsonl"
    truth.write_text(json.dumps(TRUTH))
    warnings.write_text("\n".join(json.dumps(x) for x in WARNINGS))
    out_json, out_png = tmp_path / "q.json", tmp_path / "q.png"
    assert main(["quality", "--truth", str(truth), "--warnings", str(warnings), "--out-json", str(out_json),
                 "--out-png", str(out_png)]) == 0
    assert json.loads(out_json.read_text())["overall"]["expected"] == 3
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_then_evaluate_commands(tmp_path, capsys):
    ev, tr = tmp_path / "ev.jsonl", tmp_path / "truth.json"
    assert main(["simulate", "--scenario", "late_notices", "--seed", "2", "--out-events", str(ev),
                 "--out-truth", str(tr)]) == 0
    doc = json.loads(tr.read_text())
    assert doc["scenario"] == "late_notices" and len(doc["expected"]) == 6
    assert len(ev.read_text().splitlines()) > 500
    assert main(["evaluate", "--scenario", "late_notices", "--seed", "2"]) == 0
    assert "outage.notice_late" in capsys.readouterr().out


def test_the_delay_and_latency_are_given_as_p50_p90_and_max_per_rule():
    truth = {"scenario": "spread", "quiet_districts": [], "expected": [
        {"rule_id": "a", "scope": {"ticket_id": f"t{i}"}, "district_id": "north", "earliest": T, "tolerance_s": 60}
        for i in range(10)]}
    warnings = [w("a", {"ticket_id": f"t{i}"}, 60 * i, detected=60 * i + 30) for i in range(10)]  # 0 .. 9 min late
    r = quality.evaluate(truth, warnings)["rules"]["a"]
    assert (r["delay_min"]["p50"], r["delay_min"]["p90"], r["delay_min"]["max"]) == (4.0, 8.0, 9.0)
    assert (r["latency_min"]["p50"], r["latency_min"]["p90"], r["latency_min"]["max"]) == (4.5, 8.5, 9.5)
    assert "4.0/8.0/9.0" in quality.table(quality.evaluate(truth, warnings))
