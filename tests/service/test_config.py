import pytest

from service.config import load_rulebook, load_settings
from service.core.rulebook import ConfigError


def test_defaults_are_the_contract_topic_names():
    s = load_settings({})
    assert s.topics.inputs == ["outage-events", "repair-tickets", "billing-events", "service-events"]
    assert (s.topics.risk_warnings, s.topics.dead_letters) == ("risk-warnings", "dead-letters")
    assert s.clock == "wall"


def test_environment_overrides_nested_settings():
    s = load_settings({"RISK_TOPICS__DEAD_LETTERS": "dlq", "KAFKA_BOOTSTRAP": "kafka:9094", "RISK_CLOCK": "event"})
    assert (s.topics.dead_letters, s.kafka_bootstrap, s.clock) == ("dlq", "kafka:9094", "event")


@pytest.mark.parametrize(
    "env,message",
    [
        ({"RISK_PARTITIONS": "0"}, r"setting partitions \(from environment variable RISK_PARTITIONS\)"),
        ({"RISK_CLOCK": "sundial"}, r"setting clock \(from environment variable RISK_CLOCK\)"),
        ({"KAFKA_BOOTSTRAP": "no port"}, r"setting kafka_bootstrap \(from environment variable KAFKA_BOOTSTRAP\)"),
        ({"RISK_TOPICS__DEAD_LETTERS": "a b"}, r"setting topics.dead_letters \(from environment variable"),
        ({"RISK_RULES_FILE": "/no/such.yaml"}, r"setting rules_file .*file not found: /no/such.yaml"),
        ({"RISK_TYPO": "1"}, r"setting typo"),
        ({"RISK_NOTIFY_DEFAULT_GROUP": "ops centre"}, r"setting notify_default_group \(from environment variable"),
    ],
)
def test_bad_setting_stops_start_up_naming_it(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


def test_settings_file_errors_name_the_file(tmp_path):
    f = tmp_path / "settings.yaml"
    f.write_text("partitions: 8\ntick_seconds: -1\n")
    with pytest.raises(ConfigError, match=rf"setting tick_seconds \(from file {f}\)"):
        load_settings({"RISK_CONFIG_FILE": str(f)})
    f.write_text("- a list\n")
    with pytest.raises(ConfigError, match=rf"{f}: the settings file must be a mapping"):
        load_settings({"RISK_CONFIG_FILE": str(f)})
    f.write_text("tick_seconds: 2\nweb_port: 7000\n")
    assert load_settings({"RISK_CONFIG_FILE": str(f)}).web_port == 7000


def test_broken_rule_file_names_the_file(tmp_path):
    f = tmp_path / "rules.yaml"
    f.write_text("rules: {repair.arrival_overdue: {response_plan: x, params: {levels: {yellow: -1}}}}")
    with pytest.raises(ConfigError, match=rf"{f}: rules.repair.arrival_overdue.params"):
        load_rulebook(f)
    f.write_text("rules: [unclosed")
    with pytest.raises(ConfigError, match=rf"{f}: cannot read rule configuration"):
        load_rulebook(f)


def test_district_reference_data_loads_and_errors_name_the_file(tmp_path):
    from pathlib import Path

    from service.config import load_districts

    demo = Path(__file__).parents[2] / "deploy" / "demo" / "districts.yaml"
    districts = load_districts(demo)
    assert districts["north"].customers_served == 180000 and districts["hills"].area_type == "remote"
    f = tmp_path / "districts.yaml"
    f.write_text("districts:\n  - {district_id: a, name: A, area_type: suburban, customers_served: 1, recipient_group: g}\n")
    with pytest.raises(ConfigError, match=rf"{f}: districts.0.area_type"):
        load_districts(f)
    f.write_text("districts:\n" + "  - {district_id: a, name: A, area_type: urban, customers_served: 1, recipient_group: g}\n" * 2)
    with pytest.raises(ConfigError, match=r"districts.1.district_id: 'a' listed twice"):
        load_districts(f)
    f.write_text('districts:\n  - {district_id: "a b", name: A, area_type: urban, customers_served: 1, '
                 'recipient_group: "g\\nforged"}\n')
    with pytest.raises(ConfigError, match=rf"{f}: districts.0.district_id: String should match pattern"):
        load_districts(f)


def test_environment_beats_the_settings_file_which_beats_defaults(tmp_path):
    f = tmp_path / "settings.yaml"
    f.write_text("partitions: 8\ntick_seconds: 2\ntopics:\n  dead_letters: file-dlq\n  risk_warnings: file-warnings\n")
    s = load_settings({"RISK_CONFIG_FILE": str(f), "RISK_PARTITIONS": "4", "RISK_TOPICS__DEAD_LETTERS": "env-dlq"})
    assert (s.partitions, s.tick_seconds) == (4, 2.0)
    assert (s.topics.dead_letters, s.topics.risk_warnings, s.topics.warning_acks) == (
        "env-dlq", "file-warnings", "warning-acks")


def test_rocksdb_store_without_rocksdict_stops_start_up_naming_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "rocksdict", None)  # as if not installed: import raises ImportError
    with pytest.raises(ConfigError, match=r"setting store \(from environment variable RISK_STORE\).*rocksdict"):
        load_settings({"RISK_STORE": "rocksdb://"})


def test_rocksdb_store_with_rocksdict_is_accepted():
    pytest.importorskip("rocksdict")
    assert load_settings({"RISK_STORE": "rocksdb://"}).store == "rocksdb://"
