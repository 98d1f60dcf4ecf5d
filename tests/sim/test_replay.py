"""Real-data replays: the mapping is valid, realistic, and skips what it must."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from datetime import UTC, datetime

import pytest

from schemas.events import parse_event
from service.sim import replay


def test_missing_data_raises_a_clear_error(tmp_path):
    missing = tmp_path / "nope.jsonl.gz"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        replay.bchydro(missing)
    with pytest.raises(FileNotFoundError, match="outage.csv"):
        replay.purdue(tmp_path / "outage.csv")
    with pytest.raises(FileNotFoundError, match="oe417.csv"):
        replay.oe417(tmp_path / "oe417.csv")


@pytest.fixture(scope="module")
def bch():
    if not replay.BCHYDRO_FILE.is_file():
        pytest.skip(f"{replay.BCHYDRO_FILE} is absent")
    return replay.bchydro()


def test_bchydro_yields_outages_tickets_and_notices(bch):
    types = Counter(e["type"] for _, _, _, e in bch.stream)
    assert types["outage.started"] > 3000 and types["outage.restored"] > 3000
    assert types["outage.notice_published"] > 3000
    assert types["ticket.created"] == types["outage.started"]
    assert types["ticket.dispatched"] > 1000 and types["ticket.arrived"] > 1000
    for _, _, _, e in bch.stream[::7]:
        parse_event(json.dumps(e).encode())
    # the notice delay is the real time to the public map: minutes, not zero, not days
    started = {e["outage_id"]: ts for ts, _, _, e in bch.stream if e["type"] == "outage.started"}
    delays = [(ts - started[e["outage_id"]]) / 60 for ts, _, _, e in bch.stream
              if e["type"] == "outage.notice_published"]
    assert 5 < statistics.median(delays) < 60


def test_bchydro_storm_day_stands_out(bch):
    per_day = Counter(datetime.fromtimestamp(ts, UTC).date().isoformat()
                      for ts, _, _, e in bch.stream if e["type"] == "outage.started")
    storm = per_day.pop("2024-11-20")
    others = [n for day, n in per_day.items() if "2024-11-15" <= day <= "2024-11-28"]
    assert storm > 5 * statistics.median(others)


def test_purdue_maps_rows_and_skips_bad_ones():
    if not replay.PURDUE_FILE.is_file():
        pytest.skip(f"{replay.PURDUE_FILE} is absent")
    r = replay.purdue()
    assert r.stats["rows"] == 1534
    assert r.stats["skipped_missing_time"] == 58
    assert r.stats["dst_adjusted"] == 31
    assert r.count("outage.started") == r.count("outage.restored") == r.stats["outages"] == 1534 - 58
    for _, _, _, e in r.stream[::11]:
        parse_event(json.dumps(e).encode())
    starts = {e["outage_id"]: ts for ts, _, _, e in r.stream if e["type"] == "outage.started"}
    assert all(ts >= starts[e["outage_id"]] for ts, _, _, e in r.stream if e["type"] == "outage.restored")


def test_purdue_handles_a_tiny_file(tmp_path):
    header = "variables,OBS,U.S._STATE,POSTAL.CODE,OUTAGE.START.DATE,OUTAGE.START.TIME," \
             "OUTAGE.RESTORATION.DATE,OUTAGE.RESTORATION.TIME,OUTAGE.DURATION,CUSTOMERS.AFFECTED"
    lines = ["title", "", "", "", "", header, "Units,,,,,,,,mins,",
             ",1,Texas,TX,2010-03-14 00:00:00,01:00:00,2010-03-14 00:00:00,05:00:00,180,1000",  # DST night
             ",2,Texas,TX,2011-05-01 00:00:00,,2011-05-02 00:00:00,05:00:00,,",  # no start time
             ",3,Ohio,OH,2012-06-01 00:00:00,10:00:00,2012-06-01 00:00:00,12:30:00,150,"]
    f = tmp_path / "outage.csv"
    f.write_text("\n".join(lines) + "\n")
    r = replay.purdue(f)
    stats = (r.stats["rows"], r.stats["outages"], r.stats["skipped_missing_time"], r.stats["dst_adjusted"])
    assert stats == (3, 2, 1, 1)
    times = {(e["outage_id"], e["type"]): ts for ts, _, _, e in r.stream}
    assert times[("purdue-1", "outage.restored")] - times[("purdue-1", "outage.started")] == 180 * 60
    assert times[("purdue-3", "outage.restored")] - times[("purdue-3", "outage.started")] == 150 * 60


@pytest.mark.parametrize("area, states", [
    ("Texas: Harris County;", ["TX"]),
    ("Portland, Oregon", ["OR"]),
    ("Delaware County, PA; Chester County, PA", ["PA"]),  # a county named after a state is not the state
    ("Colorado Springs, Colorado", ["CO"]),
    ("Ohio, Virginia, West Virginia", ["OH", "VA", "WV"]),
    ("Maryland: Montgomery County; District of Columbia:", ["MD", "DC"]),
    ("Harvey, Reno, and Sedgwick Counties, Kansas", ["KS"]),
    ("Texas panhandle, SE NM", ["TX", "NM"]),
    ("Canada", []),
    ("Unknown", []),
])
def test_oe417_area_names_its_states(area, states):
    assert replay.us_states(area) == states


def test_oe417_maps_losses_of_supply_and_skips_the_rest():
    if not replay.OE417_FILE.is_file():
        pytest.skip(f"{replay.OE417_FILE} is absent")
    r = replay.oe417()
    assert r.stats["rows"] == 1754
    skipped = sum(n for k, n in r.stats.items() if k.startswith("skipped_"))
    assert r.stats["outages"] + skipped == r.stats["rows"]
    assert r.count("outage.started") == r.count("outage.restored") == r.stats["outages"] > 700
    assert r.stats["skipped_negative_duration"] == 1  # the 2019 event "restored" in 2018
    for _, _, _, e in r.stream:
        parse_event(json.dumps(e).encode())
    starts = {e["outage_id"]: ts for ts, _, _, e in r.stream if e["type"] == "outage.started"}
    assert all(ts >= starts[e["outage_id"]] for ts, _, _, e in r.stream if e["type"] == "outage.restored")
    districts = Counter(e["district_id"] for _, _, _, e in r.stream if e["type"] == "outage.started")
    assert {d[3:] for d in districts} <= set(replay.US_STATES.values())
    assert districts.most_common(2)[0][0] in ("US-CA", "US-TX")  # the largest systems report most


def test_oe417_handles_a_tiny_file(tmp_path):
    head = "year,event_began,restored,duration_min,area,nerc_region,alert_criteria,event_type,demand_loss_mw," \
           "customers_affected"
    lines = [head,
             "2020,2020-08-04T14:00:00,2020-08-06T02:00:00,2160,New Jersey:,RF,Loss,Severe Weather,Unknown,1200000",
             "2020,2020-08-04T14:00:00,2020-08-06T02:00:00,2160,New Jersey:,RF,Loss,Severe Weather,Unknown,1200000",
             "2020,2020-08-05T09:00:00,2020-08-05T10:30:00,90,\"Delaware County, PA\",RFC,Load shed,System Operations,"
             "300,Unknown",
             "2020,2020-08-06T09:00:00,,,Texas:,TRE,Loss,Severe Weather,Unknown,60000",
             "2020,2020-08-07T09:00:00,2019-08-07T10:00:00,-525540,Texas:,TRE,Loss,Severe Weather,Unknown,60000",
             "2020,2020-08-08T09:00:00,2020-08-08T10:00:00,60,Canada,NPCC,Loss,Severe Weather,Unknown,60000",
             "2020,2020-08-09T09:00:00,2020-08-09T09:40:00,40,Ohio:,RF,Suspected Physical Attack,Vandalism,Unknown,0"]
    f = tmp_path / "oe417.csv"
    f.write_text("\n".join(lines) + "\n")
    r = replay.oe417(f)
    assert {k: n for k, n in r.stats.items() if n} == {
        "rows": 7, "outages": 2, "skipped_duplicate": 1, "skipped_missing_time": 1, "skipped_negative_duration": 1,
        "skipped_no_state": 1, "skipped_no_interruption": 1, "customers_unknown": 1}
    started = {e["outage_id"]: e for _, _, _, e in r.stream if e["type"] == "outage.started"}
    assert started["oe417-1"]["district_id"] == "US-NJ" and started["oe417-1"]["customers_affected"] == 1200000
    assert started["oe417-3"]["district_id"] == "US-PA" and started["oe417-3"]["customers_affected"] == 0
    assert started["oe417-3"]["feeder_id"] == "US-PA-rf"  # RFC is ReliabilityFirst's earlier name
    times = {(e["outage_id"], e["type"]): ts for ts, _, _, e in r.stream}
    assert times[("oe417-3", "outage.restored")] - times[("oe417-3", "outage.started")] == 90 * 60
