"""docs/contract.md, docs/rules.md and docs/configuration.md are generated from the code and cannot drift."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from schemas import EVENT_TYPES
from service import docs
from service.config import Settings, Topics
from service.core.rules import RULES

ROOT = Path(__file__).resolve().parents[2]


def test_committed_documents_are_up_to_date():
    assert docs.check() == [], "run `make docs` and commit the result"


def test_the_check_command_fails_on_a_stale_document_and_names_it(tmp_path):
    for name, text in docs.render().items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    stale = tmp_path / "rules.md"
    stale.write_text(stale.read_text(encoding="utf-8").replace("repair.arrival_overdue", "repair.arrival_late"),
                     encoding="utf-8")
    (tmp_path / "contract.md").unlink()
    out = subprocess.run([sys.executable, "-m", "service.docs", "--check", "--dir", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stdout.split() == ["missing:", "contract.md", "differs:", "rules.md"]
    assert docs.write(tmp_path) == ["contract.md", "rules.md"] and docs.check(tmp_path) == []


def test_a_new_setting_changes_the_configuration_table(monkeypatch):
    class More(Settings):
        # Seconds a replay waits for the world to end
        doom_seconds: float = Field(3.0, gt=0)

    import service.config

    monkeypatch.setattr(service.config, "Settings", More)
    assert docs.check() == ["differs: configuration.md"]
    row = next(line for line in docs.render_configuration().splitlines() if "RISK_DOOM_SECONDS" in line)
    assert "`doom_seconds`" in row and "`3.0`" in row and "Seconds a replay waits for the world to end" in row


def test_every_setting_is_in_the_table_with_a_description():
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(RISK_[A-Z0-9_]+)`.*$", text, re.M)}
    expected = {"RISK_CONFIG_FILE"}
    for name, info in Settings.model_fields.items():
        model = info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            expected |= {f"RISK_{name.upper()}__{sub.upper()}" for sub in model.model_fields}
        else:
            expected.add(f"RISK_{name.upper()}")
    assert set(rows) == expected
    for env, row in rows.items():
        assert not row.rstrip().endswith("|  |"), f"{env} has no description: add a comment above the field"


def test_the_contract_names_every_event_type_field_and_topic():
    text = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    for event_type, cls in EVENT_TYPES.items():
        section = text.split(f"#### `{event_type}`", 1)[1].split("\n#### ", 1)[0].split("\n## ", 1)[0]
        for field in set(cls.model_fields) - {"event_id", "type", "occurred_at", "source", "schema_version"}:
            assert re.search(rf"^\| `{field}` \|.*\| \S[^|]* \|$", section, re.M), f"{event_type}.{field} undescribed"
    for topic in Topics().model_dump().values():
        assert f"| `{topic}` |" in text
    for internal in ("<app_id>-work", "<app_id>-notify", "<app_id>-state-changelog"):
        assert f"`{internal}`" in text


def test_an_internal_topic_or_table_without_a_description_stops_the_generator():
    assert docs.internal_names('app.topic(f"{settings.app_id}-work", x)\napp.GlobalTable("firing", default=None)') \
        == (["work"], ["firing"])
    source = (ROOT / "service" / "app.py").read_text(encoding="utf-8")
    topics, tables = docs.internal_names(source)
    assert set(topics) == set(docs.INTERNAL_TOPICS) and set(tables) == set(docs.INTERNAL_TABLES)


def test_rules_reference_has_every_rule_with_sources_and_a_delay():
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    for rule_id, cls in RULES.items():
        section = text.split(f"\n### `{rule_id}`\n", 1)[1].split("\n### ", 1)[0]
        assert "**worst-case detection delay**" in section
        assert "Response plan: " in section
        for param in cls.sources:
            assert re.search(rf"^\| `{param}` \|", section, re.M), f"{rule_id}: {param} not in its table"
    assert "SGCC ten service commitments" in text and "Regulations on Electricity Supply and Use art. 28" in text


def test_every_rule_states_once_whether_its_threshold_is_reached_or_exceeded():
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    for rule_id, cls in RULES.items():
        section = text.split(f"\n### `{rule_id}`\n", 1)[1].split("\n### ", 1)[0]
        said = cls().threshold_semantics()
        assert said.startswith(("reached: ", "exceeded: ")), rule_id
        assert section.count("**threshold** ") == 1 and f"**threshold** {said}" in section, rule_id


def test_sources_name_real_parameters():
    for rule_id, cls in RULES.items():
        names = {info.alias or name for name, info in cls.Params.model_fields.items()}
        assert set(cls.sources) <= names, rule_id


@pytest.mark.parametrize("rule_id,expected", [
    ("repair.arrival_p90", "10 min (`step_minutes` 5 min + `lateness_minutes` 5 min)"),
    ("repair.sla_breach_ratio", "10 min (`step_minutes` 5 min + `lateness_minutes` 5 min)"),
    ("followup.dissatisfied_ratio", "10 min (`step_minutes` 5 min + `lateness_minutes` 5 min)"),
    ("satisfaction.low", "10 min (`step_minutes` 5 min + `lateness_minutes` 5 min)"),
    ("reliability.storm_mode", "5 min for a raise or an escalation (`lateness_minutes`)"),
    ("outage.frequent_feeder", "none for a raise or an escalation"),
    ("complaints.surge", "5 min for a raise or an escalation (`lateness_minutes`)"),
    ("meter.alarm_surge", "5 min for a raise or an escalation (`lateness_minutes`)"),
    ("complaints.staff_repeat", "5 min (`lateness_minutes`)"),
    ("repair.arrival_overdue", "none: each severity is stamped at the exact moment"),
])
def test_the_delay_follows_the_shipped_step_and_lateness(rule_id, expected):
    from service.config import DEFAULT_RULES, load_rulebook

    rc = load_rulebook(DEFAULT_RULES).rules[rule_id]
    assert docs.delay(rc.rule, rc.params).startswith(expected)
    if rule_id == "repair.arrival_p90":
        slower = rc.params.model_copy(update={"step_minutes": 15.0, "for_minutes": 30.0})
        assert docs.delay(rc.rule, slower).startswith("50 min (`step_minutes` 15 min + `lateness_minutes` 5 min "
                                                      "+ `for_minutes` 30 min)")


def test_field_comments_are_read_from_the_source():
    comments = docs.field_comments(Settings)
    assert comments["tick_seconds"].startswith("How often the clock ticks")
    assert comments["session_timeout_seconds"].startswith("How long the broker waits for a silent worker")


def first_published(w, condition_minute: float, until: float, every: float = 0.5) -> float:
    """The clock minute at which the first warning came out, ticking from the condition on."""
    m = condition_minute
    while m <= until:
        w.tick(m)
        if w.warnings:
            return m
        m += every
    raise AssertionError("no warning")


def test_the_documented_delay_of_a_window_rule_is_what_the_engine_takes():
    from tests.core.world import World, rulebook

    book = rulebook(only=["repair.arrival_p90"])
    rc = book.rules["repair.arrival_p90"]
    bound = docs.delay_minutes(rc.rule, rc.params)
    w = World(book)
    # five crews 50 min after their tickets (limit 45): p90 over the limit from the fifth, just after a window end
    for i in range(5):
        w.send("ticket.created", i * 0.1, ticket_id=f"T{i}", district_id="D1", area_type="urban",
               category="no_power", priority="normal")
    for i in range(5):
        w.send("ticket.arrived", 50.1 + i * 0.1, ticket_id=f"T{i}")
    w.tick(50.0)
    seen = first_published(w, 50.5, 120)
    assert bound - 1 <= seen - 50.5 <= bound  # the bound holds, and is tight


def test_the_documented_delay_of_an_event_driven_count_is_what_the_engine_takes():
    from tests.core.world import World, rulebook

    book = rulebook(only=["complaints.staff_repeat"])
    rc = book.rules["complaints.staff_repeat"]
    bound = docs.delay_minutes(rc.rule, rc.params)
    w = World(book)
    for m in (0, 1, 2):  # the third complaint naming S7 reaches yellow
        w.send("complaint.received", m, complaint_id=f"c{m}", district_id="D1", category="service_attitude",
               staff_id="S7")
    seen = first_published(w, 2, 60)
    assert bound - 0.5 <= seen - 2 <= bound
    assert w.warnings[0]["changed_at"].startswith("2026-11-27T08:02")  # stamped at the complaint itself


def test_the_documented_delay_of_a_surge_is_what_the_engine_takes():
    from tests.core.world import World, rulebook

    book = rulebook(only=["meter.alarm_surge"])
    rc = book.rules["meter.alarm_surge"]
    bound = docs.delay_minutes(rc.rule, rc.params)
    assert bound == rc.params.lateness_minutes
    w = World(book)
    # 9 alarms every hour for two days (the baseline), then 18 more just after the quarter ending at 47:15
    regular = [h * 60 + 7 + 0.01 * i for h in range(47) for i in range(9)]
    for m in regular:
        w.tick(m)
        w.send("meter.alarm", m, meter_id=f"r{m}", district_id="D1", alarm="communication_loss")
    crossing = 47 * 60 + 15.5
    for i in range(18):
        w.send("meter.alarm", crossing + 0.001 * i, meter_id=f"b{i}", district_id="D1", alarm="communication_loss")
    seen = first_published(w, crossing, crossing + 60)
    # raised at a burst alarm, once the quarter ending at 47:15 is decided (47:20): tight within a tick
    assert w.warnings[0]["transition"] == "raised"
    assert bound - 1 <= seen - crossing <= bound
