"""The OE-417 sample shipped with the repository replays without ../shared (so this never skips)."""

from __future__ import annotations

import json
from collections import Counter

from schemas.events import parse_event
from service.sim import cli, replay
from service.sim.engine_run import run_stream


def test_the_sample_is_in_the_repository_with_its_notice():
    assert replay.OE417_SAMPLE.is_file()
    notice = (replay.SAMPLES / "NOTICE.md").read_text(encoding="utf-8")
    assert "public domain" in notice and "oe.netl.doe.gov" in notice


def test_the_sample_maps_to_valid_events_and_the_engine_warns_on_them():
    r = replay.oe417(replay.OE417_SAMPLE)
    assert r.stats["rows"] == 387
    assert r.stats["outages"] > 100
    types = Counter(e["type"] for _, _, _, e in r.stream)
    assert types["outage.started"] == types["outage.restored"] == r.stats["outages"]
    for _, _, _, e in r.stream:
        parse_event(json.dumps(e).encode())
    warnings = run_stream(r.stream).warnings
    raised = Counter(w["rule_id"] for w in warnings if w["transition"] == "raised")
    # no notice is ever published in these records, and some outages last days
    assert raised["outage.notice_late"] > 0 and raised["outage.long_duration"] > 0


def test_the_cli_falls_back_to_the_sample_and_says_where_the_full_data_is(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(replay, "OE417_FILE", tmp_path / "absent" / "oe417_2015_2022_normalized.csv")
    out = tmp_path / "events.jsonl"
    assert cli.main(["replay-oe417", "--out-events", str(out)]) == 0
    err = capsys.readouterr().err
    assert str(replay.OE417_SAMPLE) in err and "oe.netl.doe.gov" in err
    lines = out.read_text().splitlines()
    assert len(lines) == len(replay.oe417(replay.OE417_SAMPLE).stream)


def test_missing_data_without_a_sample_says_where_it_comes_from(tmp_path, monkeypatch, capsys):
    missing = tmp_path / replay.BCHYDRO_FILE.name
    monkeypatch.setattr(replay, "BCHYDRO_FILE", missing)
    assert cli.main(["replay-bchydro", "--file", str(missing), "--out-events", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "replay data not found" in err and "bchydro-outages" in err and "--file" in err
