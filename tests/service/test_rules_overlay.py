"""A rule file overlays the shipped rules; the worker says which rules run and where they came from."""

from __future__ import annotations

import logging
import os

import pytest
import yaml

from service import cli
from service.config import DEFAULT_RULES, load_rulebook, load_settings
from service.core.rulebook import ConfigError, RuleBook, describe, overlay
from service.core.rules import RULES

SHIPPED = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))


def rules_file(tmp_path, text: str):
    f = tmp_path / "rules.yaml"
    f.write_text(text, encoding="utf-8")
    return f


def test_a_file_naming_one_rule_leaves_every_other_rule_on_as_shipped(tmp_path):
    f = rules_file(tmp_path, "rules:\n  outage.notice_late:\n    params:\n      minutes: {orange: 20}\n")
    book = load_rulebook(f)
    shipped = RuleBook.from_mapping(SHIPPED, str(DEFAULT_RULES))
    assert sorted(book.rules) == sorted(RULES)
    assert all(rc.enabled for rc in book.rules.values())
    assert book.rules["outage.notice_late"].params.minutes == {"orange": 20.0}  # a severity map is replaced whole
    for rule_id, rc in book.rules.items():
        if rule_id != "outage.notice_late":
            assert rc.params == shipped.rules[rule_id].params, rule_id
            assert rc.response_plan == shipped.rules[rule_id].response_plan


def test_a_rule_is_off_only_where_a_file_says_enabled_false(tmp_path):
    f = rules_file(tmp_path, "rules:\n  meter.alarm_surge: {enabled: false}\n"
                             "  complaints.surge: {districts: {north: {enabled: false}}}\n")
    book = load_rulebook(f)
    assert [r for r, rc in book.rules.items() if not rc.enabled] == ["meter.alarm_surge"]
    assert not book.rules["complaints.surge"].enabled_for("north")
    assert book.rules["complaints.surge"].enabled_for("south")


def test_parameters_overlay_one_by_one(tmp_path):
    f = rules_file(tmp_path, "rules:\n  repair.arrival_overdue:\n    params:\n"
                             "      limit_minutes: {urban: 30, rural: 60, remote: 90}\n"
                             "    escalate_after_minutes: 20\n")
    rc = load_rulebook(f).rules["repair.arrival_overdue"]
    assert rc.params.limit_minutes.urban == 30
    assert rc.params.levels == {"yellow": 0.8, "orange": 1.0, "red": 2.0}  # not named: as shipped
    assert rc.escalate_after_seconds == 20 * 60
    assert rc.response_plan.startswith("Call the crew leader")


def test_suppression_settings_come_from_the_file_and_flapping_overlays_per_key(tmp_path):
    f = rules_file(tmp_path, "flapping: {changes: 4}\nstorm_inhibits: [repair.arrival_overdue]\n")
    book = load_rulebook(f)
    assert (book.flapping.changes, book.flapping.window_minutes) == (4, 60.0)
    assert book.suppressions.storm_inhibits == frozenset({"repair.arrival_overdue"})
    assert len(book.rules) == len(RULES)


def test_an_empty_file_means_the_shipped_rules(tmp_path):
    book = load_rulebook(rules_file(tmp_path, ""))
    assert sorted(book.rules) == sorted(RULES) and all(rc.enabled for rc in book.rules.values())


@pytest.mark.parametrize("text,message", [
    ("rules:\n  outage.notice_late: {params: {minutes: {purple: 3}}}\n", r"rules.outage.notice_late.params.*purple"),
    ("rules:\n  no.such_rule: {enabled: false}\n", r"rules.no.such_rule: unknown rule id"),
    ("rules:\n  outage.notice_late: {enabeld: false}\n", r"rules.outage.notice_late.enabeld"),
    ("rules:\n  outage.notice_late: {params: {minutse: 3}}\n", r"rules.outage.notice_late.params.minutse"),
    ("rules: [a, list]\n", r"rules"),
    ("- a list\n", r"\(top level\)|Input should be"),
])
def test_errors_in_an_overlay_name_the_file_and_the_field(tmp_path, text, message):
    f = rules_file(tmp_path, text)
    with pytest.raises(ConfigError, match=rf"^{f}: .*(?:{message})"):
        load_rulebook(f)


def test_overlay_leaves_the_shipped_mapping_untouched():
    before = yaml.safe_dump(SHIPPED)
    overlay(SHIPPED, {"rules": {"outage.notice_late": {"params": {"minutes": {"red": 1}}}}})
    assert yaml.safe_dump(SHIPPED) == before


def test_origins_name_the_defaults_or_the_file_and_what_it_set(tmp_path):
    f = rules_file(tmp_path, "rules:\n  meter.alarm_surge: {enabled: false}\n"
                             "  outage.notice_late: {params: {minutes: {orange: 20}}}\n")
    book = load_rulebook(f)
    assert book.origins["meter.alarm_surge"] == f"{f} (enabled)"
    assert book.origins["outage.notice_late"] == f"{f} (params.minutes)"
    assert book.origins["repair.arrival_overdue"] == "defaults"
    lines = describe(book)
    assert len(lines) == len(RULES)
    assert f"rule meter.alarm_surge: off; from {f} (enabled)" in lines
    assert "rule repair.arrival_overdue: on; from defaults" in lines
    shipped = load_rulebook(DEFAULT_RULES)
    assert set(shipped.origins.values()) == {"defaults"}


def test_a_copy_of_the_shipped_file_reads_as_defaults(tmp_path):
    copy = rules_file(tmp_path, DEFAULT_RULES.read_text(encoding="utf-8").replace("overdue_days: 30", "overdue_days: 20"))
    origins = load_rulebook(copy).origins
    assert origins["billing.overdue_large"] == f"{copy} (params.overdue_days)"
    assert {o for r, o in origins.items() if r != "billing.overdue_large"} == {"defaults"}


def test_the_worker_logs_the_active_rules_before_it_starts(tmp_path, monkeypatch, caplog):
    f = rules_file(tmp_path, "rules:\n  meter.alarm_surge: {enabled: false}\n")
    for key in [k for k in os.environ if k.startswith("RISK_") or k == "KAFKA_BOOTSTRAP"]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("RISK_RULES_FILE", str(f))
    monkeypatch.setenv("RISK_CREATE_TOPICS", "false")
    import service.app
    import service.topics

    started = []
    monkeypatch.setattr(service.app, "create_app", lambda settings: "app")
    monkeypatch.setattr(service.topics, "warn_if_unreplicated", lambda settings: started.append("checked"))
    monkeypatch.setattr(cli, "worker_for", lambda app, level: type("W", (), {
        "execute_from_commandline": lambda self: started.append(app)})())
    with caplog.at_level(logging.INFO, logger="service.cli"):
        assert cli.cmd_worker(None) == 0
    assert started == ["checked", "app"]
    text = caplog.text
    assert f"rules: {len(RULES) - 1} of {len(RULES)} on; shipped defaults {DEFAULT_RULES} overlaid by {f}" in text
    assert f"rule meter.alarm_surge: off; from {f} (enabled)" in text
    assert "rule repair.arrival_overdue: on; from defaults" in text


def test_settings_default_to_the_shipped_rules():
    assert load_settings({}).rules_file == DEFAULT_RULES
