import pytest

from service.core.rulebook import ConfigError, RuleBook
from tests.core.world import World, at, default_rules

TICKET = dict(ticket_id="T1", district_id="D1", area_type="urban", category="no_power", priority="normal")


def book(**extra):
    data = default_rules()
    data["rules"] = {k: v for k, v in data["rules"].items() if k == "repair.arrival_overdue"}
    data.update(extra)
    return RuleBook.from_mapping(data, "rules.yaml")


def late_ticket(w, district="D1", tid="T1"):
    w.send("ticket.created", 0, **{**TICKET, "ticket_id": tid, "district_id": district})
    w.run(50)


def test_silence_marks_matching_warnings_suppressed_but_still_publishes_them():
    silence = {"matchers": {"rule_id": "repair.arrival_overdue", "district_id": "D1"},
               "starts_at": at(0), "ends_at": at(40), "comment": "drill"}
    w = World(book(silences=[silence]))
    late_ticket(w)
    late_ticket(w, district="D2", tid="T2")
    d1 = [x for x in w.warnings if x["scope"]["district_id"] == "D1"]
    d2 = [x for x in w.warnings if x["scope"]["district_id"] == "D2"]
    assert [(x["severity"], x["suppressed"]) for x in d1] == [("yellow", True), ("orange", False)]  # 36 in, 45 out
    assert d1[0]["suppressed_by"] == ["silence:drill"]
    assert all(not x["suppressed"] for x in d2)


def test_maintenance_window_crossing_midnight_in_local_time():
    # T0 is 08:00 UTC = 16:00 in Shanghai; a window 16:30-01:00 local covers the 36 and 45 minute crossings
    window = {"matchers": {"district_id": "D1"}, "start": "16:30", "end": "01:00", "timezone": "Asia/Shanghai"}
    w = World(book(maintenance_windows=[window]))
    late_ticket(w)
    assert [x["suppressed"] for x in w.warnings] == [True, True]
    assert w.warnings[0]["suppressed_by"] == ["maintenance:0"]


def test_storm_mode_inhibits_per_ticket_warnings_of_its_district():
    storm = {"D1"}
    w = World(book())
    w.engine.storm_districts = lambda: storm
    late_ticket(w)
    late_ticket(w, district="D2", tid="T2")
    assert {x["scope"]["district_id"]: x.get("suppressed_by") for x in w.warnings} == {"D1": ["storm_mode"], "D2": None}


@pytest.mark.parametrize("extra,message", [
    ({"silences": [{"matchers": {"colour": "red"}, "starts_at": at(0), "ends_at": at(1)}]}, r"silences.0.matchers.*colour"),
    ({"silences": [{"matchers": {"district_id": "D1"}, "starts_at": at(5), "ends_at": at(1)}]}, r"silences.0.*ends_at"),
    ({"silences": [{"matchers": {"district_id": "D1"}, "starts_at": "2026-11-27T08:00:00", "ends_at": at(1)}]}, r"silences.0.starts_at"),
    ({"maintenance_windows": [{"matchers": {"district_id": "D1"}, "start": "01:00", "end": "02:00", "timezone": "Mars/Olympus"}]}, r"maintenance_windows.0.timezone"),
    ({"storm_inhibits": ["no.such"]}, r"storm_inhibits.0: unknown rule id"),
])
def test_bad_suppression_configuration_names_the_field(extra, message):
    with pytest.raises(ConfigError, match=message):
        book(**extra)
