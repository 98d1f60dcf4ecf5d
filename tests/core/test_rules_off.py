"""A rule turned off everywhere costs nothing: it observes no event, and no event reaches (is derived for, or
routed to) a district, feeder or staff member where no rule that is on would observe it. The rules left on decide as they do with every rule on."""

from __future__ import annotations

import copy

import yaml

from bench.mix import days_ago, mix
from service.core.rulebook import RuleBook
from service.sim.engine_run import RULES_FILE, EngineRun

# the Quix Streams peer's five rules (bench/side by side): a district rule fed by a derived event, one
# fed by input events, two deadline rules and an account rule
ON = {"repair.arrival_overdue", "outage.notice_late", "repair.sla_breach_ratio", "complaints.surge",
      "billing.overdue_large"}


def rulebook(on: set[str] | None) -> RuleBook:
    data = yaml.safe_load(RULES_FILE.read_text())
    if on is not None:
        data = copy.deepcopy(data)
        for rule_id, entry in data["rules"].items():
            entry["enabled"] = rule_id in on
    return RuleBook.from_mapping(data, str(RULES_FILE))


def run(on: set[str] | None, events) -> tuple[EngineRun, list[tuple], int]:
    r = EngineRun(rulebook(on))
    derived = 0
    engine_on_event = r.engine.on_event

    def counting(*args, **kwargs):
        nonlocal derived
        result = engine_on_event(*args, **kwargs)
        derived += len(result.derived)
        return result

    r.engine.on_event = counting
    for _, _, _, event in events:
        r.send(event)
    warnings = sorted((w["rule_id"], w["fingerprint"], w["transition"], w["changed_at"], w.get("severity"),
                       w.get("value")) for w in r.warnings if w["rule_id"] in ON)
    return r, warnings, derived


def test_rules_off_observe_nothing_and_the_rules_on_decide_as_with_all_on():
    events = mix(3000, days_ago(2), 6 * 3600, seed=3)
    some, warned, derived_some = run(ON, events)
    everything, warned_all, derived_all = run(None, events)
    assert warned == warned_all
    assert {w[0] for w in warned} >= {"repair.arrival_overdue", "outage.notice_late", "billing.overdue_large"}
    # only ticket arrivals (repair.sla_breach_ratio) still travel to the districts
    assert 0 < derived_some < derived_all / 2, (derived_some, derived_all)
    kept = {rule_id for state in some.states.values() if state for rule_id in state["rules"]}
    assert kept <= ON, kept - ON
    # no staff rule is on: complaints and surveys reach the districts only
    assert not any(key.startswith(("staff:", "feeder:")) for key in some.states)
    assert any(key.startswith("staff:") for key in everything.states)
    assert "reliability.storm_mode" in {rule_id for state in everything.states.values() if state
                                        for rule_id in state["rules"]}
