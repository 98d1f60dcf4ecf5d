"""The committed JSON Schema files match the models, and the check notices when they do not."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from schemas import EVENT_TYPES, RiskWarning, generate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def copy(tmp_path) -> Path:
    target = tmp_path / "json"
    shutil.copytree(generate.JSON_DIR, target)
    return target


def test_committed_files_are_up_to_date():
    assert generate.check() == []


def test_the_check_command_passes_on_the_committed_files():
    out = subprocess.run([sys.executable, "-m", "schemas.generate", "--check"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "up to date" in out.stdout


def test_one_file_per_model_with_id_title_and_dialect():
    names = {p.name for p in generate.JSON_DIR.glob("*.schema.json")}
    expected = {f"{t}.schema.json" for t in EVENT_TYPES} | {
        "input-event.schema.json", "risk-warning.schema.json", "notification.schema.json",
        "warning-ack.schema.json", "dead-letter.schema.json"}
    assert names == expected
    for name in names:
        text = (generate.JSON_DIR / name).read_text(encoding="utf-8")
        schema = json.loads(text)
        assert schema["$id"].endswith(name) and schema["title"]
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert text.endswith("}\n") and text == json.dumps(schema, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_event_schemas_require_the_common_fields_and_pin_their_type():
    for event_type in EVENT_TYPES:
        schema = json.loads((generate.JSON_DIR / f"{event_type}.schema.json").read_text(encoding="utf-8"))
        assert {"event_id", "type", "occurred_at"} <= set(schema["required"])
        assert schema["properties"]["type"]["const"] == event_type
        assert "additionalProperties" not in schema  # unknown fields are allowed (forward compatibility)
    union = json.loads((generate.JSON_DIR / "input-event.schema.json").read_text(encoding="utf-8"))
    assert union["discriminator"]["propertyName"] == "type"
    assert sorted(union["discriminator"]["mapping"]) == sorted(EVENT_TYPES)


def test_money_is_a_string_in_the_schema():
    bill = json.loads((generate.JSON_DIR / "bill.issued.schema.json").read_text(encoding="utf-8"))
    assert bill["properties"]["amount"]["type"] == "string"
    assert bill["properties"]["amount"]["pattern"] == r"^[0-9]+(\.[0-9]{1,2})?$"


def test_the_check_fails_when_a_model_changes(monkeypatch, capsys):
    class Changed(RiskWarning):
        runbook_url: str | None = None

    monkeypatch.setattr(generate, "RiskWarning", Changed)
    assert generate.check() == ["differs: risk-warning.schema.json"]
    assert generate.main(["--check"]) == 1
    assert "differs: risk-warning.schema.json" in capsys.readouterr().out


def test_the_check_names_altered_missing_and_extra_files(copy):
    altered = copy / "ticket.created.schema.json"
    altered.write_text(altered.read_text(encoding="utf-8").replace('"urgent"', '"very_urgent"'), encoding="utf-8")
    (copy / "meter.alarm.schema.json").unlink()
    (copy / "ticket.teleported.schema.json").write_text("{}\n", encoding="utf-8")
    assert generate.check(copy) == [
        "missing: meter.alarm.schema.json",
        "differs: ticket.created.schema.json",
        "extra: ticket.teleported.schema.json",
    ]
    out = subprocess.run([sys.executable, "-m", "schemas.generate", "--check", "--dir", str(copy)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "differs: ticket.created.schema.json" in out.stdout


def test_regenerating_restores_the_files_and_is_deterministic(copy):
    (copy / "notification.schema.json").write_text("{}\n", encoding="utf-8")
    (copy / "stale.schema.json").write_text("{}\n", encoding="utf-8")
    assert sorted(generate.write(copy)) == ["notification.schema.json", "stale.schema.json"]
    assert generate.check(copy) == []
    assert generate.write(copy) == []  # nothing to do the second time
    assert generate.render() == generate.render()


def test_an_empty_directory_is_all_missing(tmp_path):
    problems = generate.check(tmp_path / "nothing-here")
    assert len(problems) == len(generate.render()) and all(p.startswith("missing: ") for p in problems)
