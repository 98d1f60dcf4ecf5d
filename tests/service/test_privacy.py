"""Account and staff ids pseudonymised for people, kept for machines (service/privacy.py)."""

from __future__ import annotations

import copy

from service.config import load_settings
from service.privacy import Pseudonyms


def warning(**scope) -> dict:
    return {
        "warning_id": "f" * 32 + "-1", "fingerprint": "f" * 32, "rule_id": "billing.overdue_large",
        "scope": {"district_id": "north", **scope},
        "summary": "Account A1 (north) owes 12 000.00 CNY overdue; A10 and XA1 are other accounts.",
        "summary_zh": "账户A1（north）逾期欠费12 000.00元。",
        "evidence": ["bill-A1-2026-10", "pay-A10-1"],
    }


def test_scope_texts_and_evidence_show_the_pseudonym_never_the_id():
    p = Pseudonyms(b"k" * 32)
    w = warning(account_id="A1")
    before = copy.deepcopy(w)
    shown = p.warning(w)
    alias = p.of("account_id", "A1")
    assert alias.startswith("#") and len(alias) == 11 and "A1" not in alias
    assert shown["scope"] == {"district_id": "north", "account_id": alias}
    assert shown["summary"] == f"Account {alias} (north) owes 12 000.00 CNY overdue; A10 and XA1 are other accounts."
    assert shown["summary_zh"] == f"账户{alias}（north）逾期欠费12 000.00元。"
    assert shown["evidence"] == [f"bill-{alias}-2026-10", "pay-A10-1"]
    assert w == before  # the warning itself (what goes to Kafka) keeps the real id


def test_staff_ids_too_and_the_same_id_always_gets_the_same_pseudonym():
    p = Pseudonyms(b"k" * 32)
    w = {**warning(staff_id="S-17"), "summary": "Staff S-17 named in 3 complaints in 30 days."}
    shown = p.warning(w)
    assert shown["scope"]["staff_id"] == p.of("staff_id", "S-17") == Pseudonyms(b"k" * 32).of("staff_id", "S-17")
    assert "S-17" not in str(shown)
    assert p.of("account_id", "S-17") != p.of("staff_id", "S-17")


def test_the_key_decides_and_a_setting_shows_real_ids():
    a = Pseudonyms.from_settings(load_settings({"RISK_PSEUDONYM_KEY": "a-secret-key-of-some-length"}))
    b = Pseudonyms.from_settings(load_settings({"RISK_PSEUDONYM_KEY": "another-secret-key-entirely"}))
    assert a.of("account_id", "A1") != b.of("account_id", "A1")
    # unset: derived from the app id, stable across restarts and replicas
    assert (Pseudonyms.from_settings(load_settings({})).of("account_id", "A1")
            == Pseudonyms.from_settings(load_settings({})).of("account_id", "A1"))
    shown = Pseudonyms.from_settings(load_settings({"RISK_SHOW_PERSONAL_IDS": "true"}))
    assert shown.warning(warning(account_id="A1"))["scope"]["account_id"] == "A1"


def test_operational_ids_and_state_keys():
    p = Pseudonyms(b"k" * 32)
    w = warning(ticket_id="T1", feeder_id="F1", crew_id="C1")
    assert p.warning(w) is w  # nothing personal: as it is
    assert p.state_key("account:A1") == "account:" + p.of("account_id", "A1")
    assert p.state_key("staff:S-17") == "staff:" + p.of("staff_id", "S-17")
    assert p.state_key("district:north") == "district:north"
