from service.core.warning_state import Decision, WarningState, apply, step


def test_raise_escalate_deescalate_resolve_are_each_one_transition():
    s = WarningState()
    t1 = step(s, "yellow", value=1, threshold=1, at=10)
    assert (t1.kind, t1.severity, t1.previous_severity, t1.seq) == ("raised", "yellow", None, 1)
    assert step(s, "yellow", value=1.5, threshold=1, at=11) is None  # no repeat while unchanged
    t2 = step(s, "red", value=3, threshold=3, at=12)
    assert (t2.kind, t2.severity, t2.previous_severity) == ("escalated", "red", "yellow")
    t3 = step(s, "orange", value=2, threshold=2, at=13)
    assert (t3.kind, t3.previous_severity) == ("de-escalated", "red")
    t4 = step(s, None, value=0, threshold=2, at=20)
    assert (t4.kind, t4.severity, t4.first_fired_at, t4.duration_seconds) == ("resolved", "orange", 10, 10)
    assert s.status == "inactive" and s.seq == 4


def test_clear_without_firing_publishes_nothing():
    s = WarningState()
    assert step(s, None, value=0, threshold=1, at=1) is None
    assert s.seq == 0


def test_for_duration_keeps_warning_pending():
    s = WarningState()
    assert step(s, "yellow", value=1, threshold=1, at=0, for_seconds=60) is None
    assert s.status == "pending"
    assert step(s, "yellow", value=1, threshold=1, at=30, for_seconds=60) is None
    t = step(s, "orange", value=2, threshold=2, at=60, for_seconds=60)
    assert (t.kind, t.severity, t.first_fired_at) == ("raised", "orange", 60)


def test_pending_that_clears_never_fires():
    s = WarningState()
    step(s, "yellow", value=1, threshold=1, at=0, for_seconds=60)
    assert step(s, None, value=0, threshold=1, at=30, for_seconds=60) is None
    assert step(s, "yellow", value=1, threshold=1, at=40, for_seconds=60) is None  # pending restarts at 40
    assert step(s, "yellow", value=1, threshold=1, at=99, for_seconds=60) is None
    assert step(s, "yellow", value=1, threshold=1, at=100, for_seconds=60).first_fired_at == 100


def test_state_round_trips_through_a_plain_dict():
    s = WarningState()
    step(s, "red", value=5, threshold=3, at=7)
    again = WarningState.from_dict(s.to_dict())
    assert again == s
    assert step(again, "red", value=6, threshold=3, at=8) is None


def test_flapping_needs_enough_changes_inside_the_window():
    from service.core.rulebook import Flapping

    f = Flapping(changes=3, window_minutes=10)
    assert not f.is_flapping([0, 60])
    assert f.is_flapping([0, 60, 600])
    assert not f.is_flapping([0, 60, 601])
    assert f.is_flapping([0, 5000, 5060, 5100])  # only the last three count


def test_to_dict_carries_every_field_as_asdict_would():
    import dataclasses

    s = WarningState(status="firing", severity="orange", pending_since=1.0, first_fired_at=2.0, changed_at=3.0,
                     value=4.5, seq=6, changes=[2.0, 3.0], bump=1, acked_by="ops", acked_at=3.5)
    d = s.to_dict()
    assert d == dataclasses.asdict(s)
    d["changes"].append(9.0)
    assert s.changes == [2.0, 3.0]  # a copy, not the live list


def test_a_warning_raised_and_resolved_at_the_same_instant_is_not_published():
    def decisions():
        yield Decision("yellow", 5, 5, at=100)
        yield Decision(None, 4, 5, at=100)
        return "done"

    s = WarningState()
    out, returned = apply(s, decisions())
    assert out == [] and returned == "done"
    assert (s.status, s.seq, s.first_fired_at, s.changed_at, s.changes) == ("inactive", 0, None, None, [])

    def later():
        yield Decision("orange", 7, 7, at=200)

    out, _ = apply(s, later())
    assert [(t.kind, t.seq, t.first_fired_at) for t in out] == [("raised", 1, 200)]  # numbered as the first


def test_a_warning_that_lasted_is_resolved_even_within_one_evaluation():
    def decisions():
        yield Decision("yellow", 5, 5, at=100)
        yield Decision(None, 4, 5, at=101)

    out, _ = apply(WarningState(), decisions())
    assert [(t.kind, t.at) for t in out] == [("raised", 100), ("resolved", 101)]


def test_applied_says_whether_any_decision_was_made_even_one_withdrawn():
    from service.core.warning_state import applied

    def none():
        return "quiet"
        yield  # a generator that decides nothing

    def withdrawn():
        yield Decision("yellow", 5, 5, at=100)
        yield Decision(None, 4, 5, at=100)

    s = WarningState(value=3.0)
    assert applied(s, none()) == ([], "quiet", False) and s == WarningState(value=3.0)
    out, _, made = applied(s, withdrawn())
    assert out == [] and made  # put back as it was, but a decision set its value: written again
