"""The stored shapes: one migration from any older shape, and one write path that knows what changed."""

from __future__ import annotations

import copy

from service.config import DEFAULT_RULES, load_rulebook
from service.core.engine import Engine, new_state
from service.core.fingerprint import id_digest
from service.core.notify import new_group_state
from service.core.state import GROUP_VERSION, SUBJECT_VERSION, migrate_group, migrate_subject

T0 = 1_795_000_000.0


def test_a_subject_state_of_the_oldest_shape_is_brought_to_the_current_one_in_one_place():
    old = {"kind": "account", "facts": {"account_id": "A1", "derived": ["billed:B1"]}, "rules": {}, "warnings": {},
           "recent": [id_digest("e1"), "a-full-event-id-of-an-older-version"], "last_ts": T0}
    state = migrate_subject(copy.deepcopy(old))
    assert state == {**old, "v": SUBJECT_VERSION, "facts": {"account_id": "A1", "derived": {"billed:B1": 1}},
                     "recent": id_digest("e1"), "dated": {}, "next": {}}
    assert migrate_subject(copy.deepcopy(state)) == state  # the current shape is left as it is
    assert set(new_state("account", T0)) == set(state)  # a new state has the same keys


def test_the_ids_a_version_1_state_cites_are_kept_with_their_time_not_known():
    old = {**new_state("district", T0), "v": 1,
           "facts": {"district_id": "D1", "evidence": {"complaint.received": "c1"}},
           "rules": {"repair.sla_breach_ratio": {"w": {"b": {}, "evaluated": None, "late": 0}, "ev": ["e1", "e2"]},
                     "complaints.surge": {"ids": [[T0, "c1"]]}}}
    state = migrate_subject(copy.deepcopy(old))
    assert state["v"] == SUBJECT_VERSION == 2
    assert state["facts"]["evidence"] == {"complaint.received": ["c1", None]}
    assert state["rules"]["repair.sla_breach_ratio"]["ev"] == [["e1", None], ["e2", None]]
    assert state["rules"]["complaints.surge"] == old["rules"]["complaints.surge"]
    # cited whatever the change's time: when an event happened is not known
    engine = Engine(load_rulebook(DEFAULT_RULES))
    rule = engine.rulebook.rules["repair.sla_breach_ratio"].rule
    assert rule.evidence(state["facts"], state["rules"]["repair.sla_breach_ratio"], T0 - 86400) == ["e1", "e2"]


def test_a_group_state_of_the_oldest_shape_is_brought_to_the_current_one():
    old = {k: v for k, v in new_group_state().items() if k != "v"} | {"seen": ["w1", "w2"]}
    state = migrate_group(dict(old))
    assert state == {**old, "v": GROUP_VERSION, "seen": id_digest("w1") + id_digest("w2")}


def test_a_tick_that_only_moves_a_windows_decided_end_is_written_and_the_next_one_is_not():
    engine = Engine(load_rulebook(DEFAULT_RULES))
    base = {"district_id": "D01", "area_type": "urban", "channel": "phone", "category": "billing"}
    state = None
    for i in range(3):
        event = {"event_id": f"c{i}", "type": "complaint.received", "ts": T0 + i, **base}
        result = engine.on_event("district:D01", state, event, T0 + i, T0 + i)
        state = result.state
    before = copy.deepcopy(state["rules"])
    tick = engine.on_tick(state, result.wake_at)  # a window end is due: decided, nothing to say
    assert not tick.warnings
    assert state["rules"] != before and not tick.unchanged
    again = engine.on_tick(state, result.wake_at + 1)
    assert again.unchanged


def test_a_rule_yields_its_decisions_and_leaves_the_warning_state_to_the_engine():
    from service.core.warning_state import Decision, WarningState
    from tests.core.test_rules_coordination import tickets_arriving, world
    from tests.core.world import T0 as W0

    w = world("repair.arrival_p90")
    tickets_arriving(w, 0, 5, 50)  # arrivals at minutes 50-54, over the 45 min limit
    w.run(59, every=1)
    state = w.states["district:D1"]
    (rc,) = w.engine.rulebook.by_subject["district"]
    ws = WarningState.from_dict(state["warnings"].get(rc.rule.rule_id))
    before = ws.to_dict()
    decisions = rc.rule.evaluate(state["facts"], state["rules"][rc.rule.rule_id], ws, W0 + 61 * 60,
                                 rc.params_for("D1"))
    seen = []
    try:
        d = next(decisions)
        while True:
            seen.append(d)
            d = decisions.send(None)
    except StopIteration as stop:
        evaluation = stop.value
    assert [(d.target, d.at) for d in seen] == [("orange", W0 + 55 * 60)]
    assert isinstance(seen[0], Decision) and evaluation.transitions == []
    assert ws.to_dict() == before  # the engine applies the decision, not the rule


def test_a_pending_warning_that_clears_before_it_fires_is_written_back_inactive():
    from service.core.state import Transaction
    from service.core.warning_state import step

    state = new_state("district", T0)
    tx = Transaction(state)
    step(tx.warning("r"), "yellow", value=5, threshold=4, at=T0, for_seconds=600)  # pending for 10 min
    tx.commit()
    assert state["warnings"]["r"]["status"] == "pending"
    tx = Transaction(state)
    step(tx.warning("r"), None, value=1, threshold=4, at=T0 + 60, for_seconds=600)  # cleared before it fired
    tx.commit()
    assert state["warnings"]["r"]["status"] == "inactive" and state["warnings"]["r"]["pending_since"] is None
    # the condition back at minute 5: pending again from then, not firing on the old pending time
    tx = Transaction(state)
    assert step(tx.warning("r"), "yellow", value=5, threshold=4, at=T0 + 610, for_seconds=600) is None


def test_a_warning_read_for_an_evaluation_is_written_back_only_when_kept():
    from service.core.state import Transaction

    stored = {"status": "firing", "severity": "red", "pending_since": 1.0, "first_fired_at": 1.0, "changed_at": 1.0,
              "value": 9.0, "seq": 1, "changes": [1.0], "bump": 0, "acked_by": None, "acked_at": None}
    state = {"warnings": {"r.one": stored}}
    tx = Transaction(state, watch=True)
    tx.read("r.one")
    tx.read("r.two")
    tx.commit()
    assert state["warnings"] == {"r.one": stored} and state["warnings"]["r.one"] is stored and not tx.changed
    ws = tx.read("r.two")
    ws.status, ws.pending_since = "pending", 5.0
    tx.keep("r.two", ws)
    tx.commit()
    assert state["warnings"]["r.two"]["status"] == "pending" and tx.changed
