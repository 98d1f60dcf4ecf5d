from service.follow import render

WARNING = {
    "changed_at": "2026-03-05T05:50:00.000Z", "transition": "resolved", "status": "resolved", "severity": "orange",
    "rule_id": "repair.arrival_p90", "scope": {"district_id": "east"},
    "metric": {"name": "p90_arrival_minutes", "value": 38.5, "threshold": 90, "unit": "min"},
    "summary": "Crew arrivals in east back to normal: p90 38 min.",
}


def test_a_line_shows_rule_scope_value_threshold_and_summary():
    text = render(WARNING, colour=False)
    assert text.splitlines() == [
        "2026-03-05T05:50:00 RESOLVED     orange repair.arrival_p90       district_id=east",
        "    p90_arrival_minutes=38.5 min (threshold 90)  Crew arrivals in east back to normal: p90 38 min."]


def test_a_resolve_for_an_empty_window_shows_no_value():
    text = render({**WARNING, "no_samples": True, "metric": {**WARNING["metric"], "value": 0.0}}, colour=False)
    assert "p90_arrival_minutes=no samples (threshold 90)" in text and "=0 min" not in text


from service.follow import Watch, clip, story  # noqa: E402


def change(at: str, rule: str = "repair.arrival_overdue", transition: str = "raised", severity: str = "yellow",
           district: str = "east", n: int = 0, suppressed: bool = False, **extra) -> dict:
    status = "resolved" if transition == "resolved" else "firing"
    scope = {"district_id": district, **({"ticket_id": f"T{n}"} if rule == "repair.arrival_overdue" else {})}
    return {"warning_id": f"w-{rule}-{n}-{transition}-{at}", "fingerprint": f"fp-{rule}-{district}-{n}",
            "rule_id": rule, "transition": transition, "status": status, "severity": severity, "scope": scope,
            "changed_at": f"2026-03-04T{at}:00.000Z", "summary": f"s{n}", "suppressed": suppressed,
            "suppressed_by": ["storm_mode"] if suppressed else [], **extra}


def test_changes_come_out_in_event_time_order_once_held_long_enough():
    view = Watch(hold_seconds=2.0)
    view.add(change("08:30", n=1), arrived=100.0)
    view.add(change("08:10", n=2), arrived=101.0)  # published later, happened earlier
    assert view.ready(101.5) == []  # nothing held 2 s yet
    assert [w["scope"]["ticket_id"] for w in view.ready(103.0)] == ["T2", "T1"]
    assert view.ready(200.0) == []


def test_a_redelivered_change_is_counted_once():
    view = Watch()
    w = change("08:30", n=1)
    view.add(w, 0.0)
    view.add(dict(w), 1.0)
    assert view.by_rule["repair.arrival_overdue"]["raised"] == 1 and len(view.flush()) == 1


def test_summary_counts_firing_by_severity_held_back_changes_and_storm_districts():
    view = Watch()
    view.add(change("08:00", rule="reliability.storm_mode", severity="blue"), 0.0)
    view.add(change("08:20", n=1, suppressed=True), 0.0)
    view.add(change("08:25", n=2, severity="red"), 0.0)
    view.add(change("08:40", n=2, transition="resolved", severity="red"), 0.0)
    assert view.summary() == ("[2026-03-04 08:40] 4 changes (1 held back) | firing now: 1 yellow, 1 blue | "
                              "storm mode: east")
    view.add(change("10:00", rule="reliability.storm_mode", transition="resolved", severity="blue"), 0.0)
    assert view.summary().endswith("storm mode: none")


def test_suppressed_changes_fold_into_one_marked_line_where_the_first_stood():
    lines = story([change("08:00", rule="reliability.storm_mode", severity="blue"),
                   change("08:20", n=1, suppressed=True),
                   change("08:21", rule="outage.long_duration", n=9, severity="orange"),
                   change("08:22", n=2, suppressed=True),
                   change("08:50", n=1, transition="escalated", suppressed=True)], colour=False)
    assert len(lines) == 3
    assert lines[1].startswith("2026-03-04 08:20 HELD BACK")
    assert "repair.arrival_overdue" in lines[1] and "2 raised, 1 escalated up to 08:50" in lines[1]
    assert "(notifications held back: storm_mode)" in lines[1]
    assert "outage.long_duration" in lines[2]


def test_the_table_has_a_row_per_rule_with_what_is_firing_at_the_end():
    view = Watch()
    view.add(change("08:20", n=1), 0.0)
    view.add(change("08:30", n=1, transition="escalated", severity="orange", suppressed=True), 0.0)
    view.add(change("08:31", n=2), 0.0)
    view.add(change("09:00", n=2, transition="resolved"), 0.0)
    row = [line for line in view.table() if line.startswith("repair.arrival_overdue")][0]
    assert row.split()[1:] == ["2", "1", "0", "1", "1", "1"]  # raised, escalated, de-esc., resolved, held, firing


def test_a_line_is_clipped_to_the_terminal_width_without_counting_colour_codes():
    line = "\033[31mabcdef\033[0m ghijkl"
    assert clip(line, 8) == "\033[31mabcdef\033[0m …"
    assert clip(line, 40) == line and clip(line, None) == line
