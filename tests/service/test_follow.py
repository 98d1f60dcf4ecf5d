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
