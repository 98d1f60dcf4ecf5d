from bench.core_cost import measure


def test_a_rules_file_leaves_the_rules_it_turns_off_without_work(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n" + "".join(f"  {r}:\n    enabled: false\n" for r in (
        "repair.arrival_overdue", "repair.arrival_p90", "repair.restore_overdue", "repair.sla_breach_ratio")))
    shipped, fewer = measure(600, seed=3), measure(600, seed=3, rules=rules)
    assert 0 < fewer["state_updates"] < shipped["state_updates"]
    assert fewer["warnings"] < shipped["warnings"]


def test_a_clock_held_back_decides_later_so_fewer_warnings_come_out_by_the_end():
    own_time = measure(600, seed=3)
    never_moved = measure(600, seed=3, lag_events=600)  # the clock never reaches any event
    assert own_time["state_updates"] == never_moved["state_updates"]
    assert never_moved["warnings"] < own_time["warnings"]
