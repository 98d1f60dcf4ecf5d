import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.warnings import GSM_BASIC, Notification
from service.core.notify import (
    NotifyConfig,
    Notifier,
    load_notify_config,
    route,
    short_texts,
)
from service.core.reference import District
from tests.core.world import T0, World, rulebook

DISTRICTS = {
    "D1": District(district_id="D1", name="城东区", area_type="urban", customers_served=1000,
                   recipient_group="east-duty"),
    "D2": District(district_id="D2", name="Riverside", area_type="rural", customers_served=500,
                   recipient_group="river-duty"),
}
CONFIG = NotifyConfig(default_group="ops-default")


def warning(fp="fp1", seq=1, transition="raised", severity="orange", prev=None, district="D1",
            suppressed=False, rule="repair.arrival_overdue", scope=None, value=54.0, threshold=45.0,
            unit="min"):
    status = "resolved" if transition == "resolved" else "firing"
    w = {
        "warning_id": f"{fp}-{seq}",
        "fingerprint": fp,
        "rule_id": rule,
        "risk_category": "coordination",
        "status": status,
        "transition": transition,
        "severity": severity,
        "scope": scope if scope is not None else {"ticket_id": "T1", **({"district_id": district} if district else {})},
        "metric": {"name": "minutes_without_arrival", "value": value, "threshold": threshold, "unit": unit},
        "first_fired_at": "2026-11-27T08:00:00.000Z",
        "changed_at": "2026-11-27T08:00:00.000Z",
        "summary": "No crew at ticket T1 (D1, urban) 54 min after report; threshold 45 min. Dispatch or reassign.",
        "summary_zh": "工单T1（D1，城区）报修54分钟后仍无抢修人员到场，阈值45分钟。请派工或改派。",
        "response_plan": "Dispatch the nearest crew.",
        "evidence": ["e1"],
        "suppressed": suppressed,
        "acknowledged": False,
    }
    if prev:
        w["previous_severity"] = prev
    if suppressed:
        w["suppressed_by"] = ["storm_mode"]
    return w


def valid(notes):
    """Every notification must validate against the wire model; returns them for chaining."""
    for n in notes:
        Notification.model_validate(n)
    return notes


def feed(notifier, warnings, group="east-duty", start=T0, step=1.0, state=None):
    """Feeds warnings one second apart; returns (state, notifications, skipped counts summed)."""
    notes, skipped = [], {}
    for i, w in enumerate(warnings):
        out = notifier.on_warning(state, w, group, start + i * step)
        state = out.state
        notes += valid(out.notifications)
        for k, v in out.skipped.items():
            skipped[k] = skipped.get(k, 0) + v
    return state, notes, skipped


# --- texts ----------------------------------------------------------------------------------------

ids = st.text(min_size=1, max_size=64)
numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**12, 10**12).map(float)


@settings(max_examples=300, deadline=None)
@given(
    rule=ids, ticket=ids, outage=ids, feeder=ids, crew=ids, district=ids,
    name=st.none() | st.text(min_size=1, max_size=200),
    severity=st.sampled_from(["blue", "yellow", "orange", "red"]),
    prev=st.sampled_from(["blue", "yellow", "orange", "red"]),
    transition=st.sampled_from(["raised", "escalated", "de-escalated", "resolved"]),
    kind=st.sampled_from(["change", "flapping", "settled"]),
    value=numbers, threshold=numbers,
    unit=st.sampled_from(["min", "h", "ratio", "CNY", ""]) | st.text(max_size=32),
)
def test_texts_fit_the_sms_limits_and_charset_for_any_ids_and_values(
        rule, ticket, outage, feeder, crew, district, name, severity, prev, transition, kind,
        value, threshold, unit):
    w = warning(rule=rule, severity=severity, prev=prev, transition=transition, value=value,
                threshold=threshold, unit=unit,
                scope={"district_id": district, "ticket_id": ticket, "outage_id": outage,
                       "feeder_id": feeder, "crew_id": crew})
    zh, en = short_texts(w, name, kind)
    assert len(zh.encode("utf-16-le")) // 2 <= 70
    assert len(en) <= 160
    assert set(en) <= GSM_BASIC and "\n" not in en and "\r" not in en
    valid([{"notification_id": "n", "warning_id": "w", "fingerprint": "f", "recipient_group": "g",
             "rule_id": "r", "severity": severity, "status": "firing", "transition": "raised",
             "text_zh": zh, "text_en": en, "created_at": "2026-11-27T08:00:00Z"}])
    # the severity word is what the reader must see first, whatever was shortened
    word = {"blue": "蓝色预警", "yellow": "黄色预警", "orange": "橙色预警", "red": "红色预警"}[severity]
    assert zh.startswith(("【" + word, ))
    assert {"blue": "BLUE", "yellow": "YELLOW", "orange": "ORANGE", "red": "RED"}[severity] in en


def test_texts_are_composed_from_rule_scope_and_metric_not_the_cut_summary():
    zh, en = short_texts(warning(), "城东区")
    assert zh == "【橙色预警】城东区 工单T1 抢修到场超时：54分钟，阈值45分钟。"
    # the Chinese district name cannot travel in GSM: English shows the district id
    assert en == "ORANGE warning: D1 ticket T1: crew arrival overdue 54 min, limit 45 min."
    zh, en = short_texts(warning(transition="escalated", severity="red", prev="orange"), "Riverside")
    assert zh.startswith("【红色预警】升级(原橙色) Riverside 工单T1")
    assert en.startswith("RED warning (up from ORANGE): Riverside ticket T1")
    zh, en = short_texts(warning(transition="resolved", value=30.0), None)
    assert zh == "【橙色预警解除】D1 工单T1 抢修到场超时，现值30分钟。"
    assert en == "RESOLVED ORANGE warning: D1 ticket T1: crew arrival overdue, now 30 min."


def test_a_resolve_for_an_empty_window_says_so_instead_of_showing_zero():
    p90 = dict(rule="repair.arrival_p90", scope={"district_id": "D1"}, value=0.0, transition="resolved")
    empty = {**warning(**p90), "no_samples": True}
    zh, en = short_texts(empty, "东城区")
    assert "无样本" in zh and "现值" not in zh and "no samples" in en and "now 0" not in en
    zh, en = short_texts(warning(**{**p90, "value": 30.0}), "东城区")  # an ordinary resolve shows its value
    assert "现值30" in zh and "now 30" in en


def test_long_ids_are_shortened_with_an_ellipsis():
    w = warning(scope={"district_id": "D" * 64, "ticket_id": "T" * 64, "outage_id": "O" * 64})
    zh, en = short_texts(w, "区" * 200)
    assert "…" in zh and "..." in en
    assert zh.endswith("。") and en.endswith(".")  # shortened fields, not a cut-off sentence
    assert len(zh) <= 70 and len(en) <= 160


def test_ratio_metrics_show_as_percent():
    zh, en = short_texts(warning(rule="repair.sla_breach_ratio", value=0.125, threshold=0.1, unit="ratio",
                                 scope={"district_id": "D1"}), "城东区")
    assert "12.5%" in zh and "阈值10%" in zh and "12.5%, limit 10%" in en


@pytest.mark.parametrize("rule", ["billing.flagged_arrears", "meter.tamper_suspected", "complaints.staff_repeat"])
def test_texts_never_show_account_customer_or_staff_ids(rule):
    scope = {"account_id": "ACC-7788123", "customer_id": "CUST-55501", "staff_id": "EMP-3141", "district_id": "D1"}
    notifier = Notifier(CONFIG, DISTRICTS)
    for transition in ("raised", "resolved"):
        for kind in ("change", "flapping", "settled"):
            zh, en = short_texts(warning(rule=rule, scope=scope, transition=transition, unit="CNY"), "城东区", kind)
            for text in (zh, en):
                assert "ACC-7788123" not in text and "CUST-55501" not in text and "EMP-3141" not in text
                assert "7788123" not in text
            assert "城东区" in zh and "D1" in en
    _, notes, _ = feed(notifier, [warning(rule=rule, scope=scope)])
    assert notes and all("7788123" not in n["text_zh"] + n["text_en"] for n in notes)


# --- routing --------------------------------------------------------------------------------------

def test_routing_to_the_district_group_or_the_default_group():
    assert route(warning(district="D1"), DISTRICTS, "ops-default") == "east-duty"
    assert route(warning(district="D2"), DISTRICTS, "ops-default") == "river-duty"
    assert route(warning(district="D404"), DISTRICTS, "ops-default") == "ops-default"
    assert route(warning(district=None), DISTRICTS, "ops-default") == "ops-default"
    assert Notifier(CONFIG, DISTRICTS).route(warning(district="D404")) == "ops-default"
    assert Notifier(CONFIG).route(warning(district="D1")) == "ops-default"


def test_notification_carries_group_district_and_warning_identity():
    [note] = valid(Notifier(CONFIG, DISTRICTS).on_warning(None, warning(), "east-duty", T0).notifications)
    assert note["recipient_group"] == "east-duty" and note["district_id"] == "D1"
    assert (note["warning_id"], note["fingerprint"], note["transition"], note["status"]) == \
        ("fp1-1", "fp1", "raised", "firing")
    assert note["created_at"] == "2026-11-27T08:00:00.000Z"
    [note] = valid(Notifier(CONFIG).on_warning(None, warning(district=None), "ops-default", T0).notifications)
    assert "district_id" not in note


# --- duplicates -----------------------------------------------------------------------------------

def test_a_redelivered_warning_is_not_notified_twice_even_after_a_restart():
    notifier = Notifier(CONFIG, DISTRICTS)
    state, notes, skipped = feed(notifier, [warning(), warning()])
    assert len(notes) == 1 and skipped == {"duplicate": 1}
    restored = json.loads(json.dumps(state))  # what a table changelog gives back after a restart
    out = Notifier(CONFIG, DISTRICTS).on_warning(restored, warning(), "east-duty", T0 + 5)
    assert out.notifications == [] and out.skipped == {"duplicate": 1}
    # the next state change of the same warning is news
    out = Notifier(CONFIG, DISTRICTS).on_warning(restored, warning(seq=2, transition="resolved"), "east-duty", T0 + 6)
    assert [n["transition"] for n in valid(out.notifications)] == ["resolved"]


def test_a_group_remembers_its_last_warning_ids_and_no_more():
    notifier = Notifier(CONFIG.model_copy(update={"remember_warning_ids": 3}), DISTRICTS)
    state, _, _ = feed(notifier, [warning(fp=f"fp{i}") for i in range(4)])
    assert len(state["seen"]) == 3 * 8  # three 8-character digests
    out = notifier.on_warning(state, warning(fp="fp1"), "east-duty", T0 + 10)
    assert out.skipped == {"duplicate": 1}
    out = notifier.on_warning(state, warning(fp="fp0"), "east-duty", T0 + 10)  # the oldest, forgotten
    assert "duplicate" not in out.skipped


def test_a_state_that_remembers_warning_ids_as_a_list_still_drops_them():
    notifier = Notifier(CONFIG, DISTRICTS)
    state, _, _ = feed(notifier, [warning()])
    state = {k: v for k, v in state.items() if k != "v"} | {"seen": ["fp1-1"]}  # as versions before the digests wrote it
    out = notifier.on_warning(state, warning(), "east-duty", T0 + 5)
    assert out.skipped == {"duplicate": 1}
    out = notifier.on_warning(state, warning(seq=2, transition="resolved"), "east-duty", T0 + 6)
    assert [n["transition"] for n in out.notifications] == ["resolved"]
    assert isinstance(out.state["seen"], str) and len(out.state["seen"]) == 2 * 8


def test_on_warnings_is_on_warning_in_turn():
    notifier = Notifier(CONFIG, DISTRICTS)  # 10 texts per 600 s: the burst folds, and flaps
    stream = burst(14) + flaps(8, fp="flappy") + [warning(fp="fp3", seq=2, transition="resolved")]
    times = [T0 + 20 * i for i in range(len(stream))]
    state, notes, skipped = None, [], {}
    for w, t in zip(stream, times):
        out = notifier.on_warning(state, w, "east-duty", t)
        state, notes, skipped = out.state, notes + out.notifications, {
            k: skipped.get(k, 0) + out.skipped.get(k, 0) for k in {*skipped, *out.skipped}}
    together = notifier.on_warnings(None, list(zip(stream, times)), "east-duty")
    assert together.notifications == notes and together.skipped == skipped and together.state == state
    assert skipped["folded"] and skipped["flapping"]


def random_story(rng, n, fingerprints):
    """Warnings of `fingerprints` fingerprints raised, escalated and resolved in random order and gaps."""
    seqs, told, t, out = {}, {}, T0, []
    for _ in range(n):
        fp = f"fp{rng.randrange(fingerprints)}"
        seqs[fp] = seqs.get(fp, 0) + 1
        if fp in told and rng.random() < 0.6:
            w = warning(fp=fp, seq=seqs[fp], transition="resolved", severity=told.pop(fp))
        elif fp in told:
            w = warning(fp=fp, seq=seqs[fp], transition="escalated", severity="red", prev=told[fp])
            told[fp] = "red"
        else:
            w = warning(fp=fp, seq=seqs[fp], severity=rng.choice(["yellow", "orange"]),
                        suppressed=rng.random() < 0.2)
            told[fp] = w["severity"]
        t += rng.choice([1, 10, 30, 300, 2000])
        out.append((w, t))
        if rng.random() < 0.05:  # a redelivery
            out.append((dict(w), t))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_looking_for_fingerprints_to_forget_less_often_changes_no_notification(seed, monkeypatch):
    import random

    from service.core import notify

    story = random_story(random.Random(seed), 600, fingerprints=8)
    notifier = Notifier(CONFIG, DISTRICTS)
    outcomes = {}
    for every in (0.0, notify.PRUNE_SECONDS):
        monkeypatch.setattr(notify, "PRUNE_SECONDS", every)
        state, notes = None, []
        for w, t in story:
            out = notifier.on_warning(state, w, "east-duty", t)
            state = out.state
            notes += out.notifications
            if t % 7 == 0:
                out = notifier.on_tick(state, "east-duty", t + 1)
                state = out.state
                notes += out.notifications
        outcomes[every] = notes
    assert len(outcomes[0.0]) > 100 and outcomes[0.0] == outcomes[notify.PRUNE_SECONDS]


def test_resolved_quiet_fingerprints_are_forgotten():
    notifier = Notifier(CONFIG, DISTRICTS)  # history 3600 s
    stream = [w for i in range(200) for w in (warning(fp=f"fp{i}"), warning(fp=f"fp{i}", seq=2,
                                                                          transition="resolved"))]
    state, _, _ = feed(notifier, stream, step=30.0)
    assert len(state["fps"]) >= 50  # the last hour's, kept for flapping
    quiet = T0 + len(stream) * 30 + 3600 + 60
    out = notifier.on_warning(state, warning(fp="late"), "east-duty", quiet)
    assert list(out.state["fps"]) == ["late"]


def test_beyond_max_fingerprints_the_longest_quiet_are_forgotten_and_their_resolve_is_not_sent():
    notifier = Notifier(CONFIG.model_copy(update={"max_fingerprints": 128}), DISTRICTS)
    state, _, _ = feed(notifier, [warning(fp=f"fp{i}") for i in range(129)], step=600.0)  # one per window: told
    assert 120 <= len(state["fps"]) <= 128 and "fp0" not in state["fps"] and "fp128" in state["fps"]
    later = T0 + 129 * 600
    assert notifier.on_warning(state, warning(fp="fp0", seq=2, transition="resolved"), "east-duty",
                               later).notifications == []
    [note] = notifier.on_warning(state, warning(fp="fp127", seq=2, transition="resolved"), "east-duty",
                                 later).notifications
    assert note["fingerprint"] == "fp127"


def test_a_group_state_is_kept_within_one_kafka_record_forgetting_the_longest_quiet():
    import orjson

    notifier = Notifier(CONFIG, DISTRICTS)  # 6 changes in an hour flap
    stories = [[warning(fp=f"fp{i}", seq=s, transition="raised" if s % 2 else "resolved") for i in range(2500)]
               for s in range(1, 8)]
    state, _, _ = feed(notifier, [w for story in stories for w in story], step=0.05)
    assert all(e.get("flapping") for e in state["fps"].values())  # each carries its last change
    size = len(orjson.dumps(state))
    assert size > 1024 * 1024  # one record Kafka would refuse
    fitted, forgotten = notifier.fit(state)
    assert len(orjson.dumps(fitted)) <= 768 * 1024 < size and forgotten == 2500 - len(fitted["fps"]) > 0
    assert list(fitted["fps"]) == list(state["fps"])[forgotten:]  # the newest kept
    assert len(orjson.dumps(state)) == size  # the state passed in is not changed
    small, _, _ = feed(notifier, [warning(fp=f"fp{i}") for i in range(400)])
    assert notifier.fit(small) == (small, 0)


def test_notification_ids_are_derived_so_a_resend_carries_the_same_id():
    a = Notifier(CONFIG, DISTRICTS).on_warning(None, warning(), "east-duty", T0).notifications
    b = Notifier(CONFIG, DISTRICTS).on_warning(None, warning(), "east-duty", T0 + 99).notifications
    assert a[0]["notification_id"] == b[0]["notification_id"]
    c = Notifier(CONFIG, DISTRICTS).on_warning(None, warning(seq=2, transition="escalated", severity="red",
                                                               prev="orange"), "east-duty", T0).notifications
    assert c[0]["notification_id"] != a[0]["notification_id"]


def test_on_warning_does_not_mutate_the_state_passed_in():
    notifier = Notifier(CONFIG, DISTRICTS)
    state, _, _ = feed(notifier, [warning()])
    before = json.dumps(state, sort_keys=True)
    notifier.on_warning(state, warning(seq=2, transition="resolved"), "east-duty", T0 + 10)
    notifier.on_tick(state, "east-duty", T0 + 10_000)
    assert json.dumps(state, sort_keys=True) == before


def test_no_path_mutates_the_state_passed_in_folded_flapping_or_settling():
    notifier = Notifier(CONFIG, DISTRICTS)  # 10 per 600 s; 6 changes in 3600 s flap
    state, _, skipped = feed(notifier, burst(12) + flaps(8, fp="flappy"), step=30.0)
    assert skipped["folded"] and state["pending"] and state["fps"]["flappy"].get("flapping")
    before = json.dumps(state, sort_keys=True)
    later = T0 + 19 * 30 + 10  # the last change fed +10 s: still in the full rate-limit window
    for out in (notifier.on_warning(state, warning(fp="flappy", seq=9), "east-duty", later),
                notifier.on_warning(state, warning(fp="fp11", seq=2, transition="escalated", severity="red",
                                                   prev="orange"), "east-duty", later),  # folded
                notifier.on_warning(state, warning(fp="new", severity="red"), "east-duty", later + 600),
                notifier.on_tick(state, "east-duty", later + 600),  # the summary
                notifier.on_tick(state, "east-duty", later + 5000)):  # flapping settles
        assert out.state != state or out.notifications
    assert json.dumps(state, sort_keys=True) == before


# --- rate limit -----------------------------------------------------------------------------------

def burst(n, severity="orange"):
    return [warning(fp=f"fp{i}", severity=severity, rule="repair.arrival_overdue" if i % 3 else "outage.notice_late")
            for i in range(n)]


def test_a_burst_beyond_the_rate_limit_is_folded_into_one_summary_on_the_next_tick():
    notifier = Notifier(CONFIG, DISTRICTS)  # 10 per 600 s
    state, notes, skipped = feed(notifier, burst(25))
    assert len(notes) == 10 and skipped == {"folded": 15}
    assert notifier.next_tick_at(state) == T0 + 600
    out = notifier.on_tick(state, "east-duty", T0 + 599)
    assert out.notifications == []
    out = notifier.on_tick(out.state, "east-duty", T0 + 600)
    [summary] = valid(out.notifications)
    assert summary["kind"] == "summary" and summary["folded"] == 15
    assert summary["text_zh"].startswith("另有15条预警") and "橙色15条" in summary["text_zh"]
    assert summary["text_en"].startswith("15 more warnings") and "ORANGE 15" in summary["text_en"]
    assert summary["recipient_group"] == "east-duty" and summary["status"] == "firing"
    assert summary["notification_id"] == "summary:east-duty:1"
    # the summary is sent once: the next tick has nothing left to say
    again = notifier.on_tick(out.state, "east-duty", T0 + 5000)
    assert again.notifications == [] and notifier.next_tick_at(again.state) is None


def test_the_summary_goes_out_before_the_next_warning_after_the_window():
    notifier = Notifier(CONFIG, DISTRICTS)
    state, _, _ = feed(notifier, burst(12, severity="red"))
    out = notifier.on_warning(state, warning(fp="late"), "east-duty", T0 + 700)
    kinds = [(n["kind"], n.get("folded")) for n in valid(out.notifications)]
    assert kinds == [("summary", 2), ("change", None)]
    assert out.notifications[0]["severity"] == "red"


def test_a_new_window_allows_the_full_rate_again():
    notifier = Notifier(CONFIG, DISTRICTS)
    state, notes, _ = feed(notifier, burst(10))
    state, more, skipped = feed(notifier, [warning(fp=f"next{i}") for i in range(10)], start=T0 + 601, state=state)
    assert len(notes) == 10 and len(more) == 10 and skipped == {}


# --- suppression ----------------------------------------------------------------------------------

def test_suppressed_changes_are_held_back_and_counted():
    notifier = Notifier(CONFIG, DISTRICTS)
    _, notes, skipped = feed(notifier, [warning(suppressed=True),
                                        warning(seq=2, transition="resolved", suppressed=True)])
    assert notes == [] and skipped == {"suppressed": 2}


def test_a_resolve_is_notified_only_if_the_group_heard_of_the_warning():
    notifier = Notifier(CONFIG, DISTRICTS)
    # raise held back (storm mode), resolve after the storm: nothing to take back
    _, notes, skipped = feed(notifier, [warning(suppressed=True), warning(seq=2, transition="resolved")])
    assert notes == [] and skipped == {"suppressed": 1, "policy": 1}
    # raise held back, then an unsuppressed escalation: news to the group, and its resolve follows
    _, notes, _ = feed(notifier, [warning(suppressed=True),
                                  warning(seq=2, transition="escalated", severity="red", prev="orange"),
                                  warning(seq=3, transition="resolved", severity="red")])
    assert [n["transition"] for n in notes] == ["escalated", "resolved"]


# --- flapping -------------------------------------------------------------------------------------

def flaps(n, fp="fp1"):
    return [warning(fp=fp, seq=i + 1, transition="raised" if i % 2 == 0 else "resolved") for i in range(n)]


def test_a_flapping_warning_is_notified_once_then_held_until_it_settles():
    notifier = Notifier(CONFIG, DISTRICTS)  # 6 changes in 3600 s; settles after 1800 s quiet
    state, notes, skipped = feed(notifier, flaps(12), step=60.0)
    assert [n["kind"] for n in notes] == ["change"] * 5 + ["flapping"]
    assert "频繁变化" in notes[-1]["text_zh"] and "FLAPPING" in notes[-1]["text_en"]
    assert skipped == {"flapping": 6}
    last_change = T0 + 11 * 60
    assert notifier.next_tick_at(state) == last_change + 1800
    assert notifier.on_tick(state, "east-duty", last_change + 1799).notifications == []
    out = notifier.on_tick(state, "east-duty", last_change + 1800)
    [settled] = valid(out.notifications)
    assert settled["kind"] == "settled" and settled["status"] == "resolved"  # the 12th change resolved it
    assert settled["warning_id"] == "fp1-12"
    # settled: the next raise is an ordinary notification again
    out = notifier.on_warning(out.state, warning(seq=13), "east-duty", last_change + 4000)
    assert [n["kind"] for n in valid(out.notifications)] == ["change"]


def test_changes_spread_beyond_the_history_window_are_not_flapping():
    notifier = Notifier(CONFIG, DISTRICTS)
    _, notes, skipped = feed(notifier, flaps(12), step=1000.0)  # 6 changes span 5000 s > 3600 s
    assert [n["kind"] for n in notes] == ["change"] * 12 and skipped == {}


def test_a_new_change_after_the_quiet_time_ends_flapping_without_a_tick():
    notifier = Notifier(CONFIG, DISTRICTS)
    state, _, _ = feed(notifier, flaps(7), step=60.0)  # ends firing (7th change is a raise)
    out = notifier.on_warning(state, warning(seq=8, transition="resolved"), "east-duty", T0 + 6 * 60 + 1800)
    [note] = valid(out.notifications)
    assert (note["kind"], note["transition"]) == ("change", "resolved")


# --- policy ---------------------------------------------------------------------------------------

def escalation_story():
    return [warning(seq=1, severity="orange"),
            warning(seq=2, transition="escalated", severity="red", prev="orange"),
            warning(seq=3, transition="de-escalated", severity="orange", prev="red"),
            warning(seq=4, transition="resolved", severity="orange")]


def test_de_escalations_are_not_notified_by_default():
    _, notes, skipped = feed(Notifier(CONFIG, DISTRICTS), escalation_story(), step=60.0)
    assert [n["transition"] for n in notes] == ["raised", "escalated", "resolved"]
    assert skipped == {"policy": 1}


def test_de_escalations_can_be_configured_in():
    config = NotifyConfig(default_group="g",
                          notify_transitions=["raised", "escalated", "de-escalated", "resolved"])
    _, notes, _ = feed(Notifier(config, DISTRICTS), escalation_story(), step=60.0)
    assert [n["transition"] for n in notes] == ["raised", "escalated", "de-escalated", "resolved"]
    assert notes[2]["text_zh"].startswith("【橙色预警】降级(原红色)")


def storm():
    kw = dict(rule="reliability.storm_mode", severity="blue", scope={"district_id": "D1"}, unit="outages")
    return [warning(fp="storm", seq=1, **kw), warning(fp="storm", seq=2, transition="resolved", **kw)]


def test_blue_storm_mode_raise_and_resolve_are_notified_once_each():
    _, notes, _ = feed(Notifier(CONFIG, DISTRICTS), storm(), step=600.0)
    assert [n["transition"] for n in notes] == ["raised", "resolved"]
    assert notes[0]["text_zh"].startswith("【蓝色预警】城东区 灾害应急模式")
    assert notes[0]["text_en"].startswith("BLUE warning")


def test_blue_can_be_switched_off():
    _, notes, skipped = feed(Notifier(NotifyConfig(default_group="g", blue="none"), DISTRICTS), storm())
    assert notes == [] and skipped == {"policy": 2}


# --- configuration --------------------------------------------------------------------------------

@pytest.mark.parametrize("data, field", [
    ({"default_group": ""}, "default_group"),
    ({}, "default_group"),
    ({"default_group": "g", "rate_limit": {"max_messages": 0}}, "rate_limit.max_messages"),
    ({"default_group": "g", "rate_limit": {"window_seconds": -1}}, "rate_limit.window_seconds"),
    ({"default_group": "g", "flapping": {"changes": 1}}, "flapping.changes"),
    ({"default_group": "g", "notify_transitions": ["raised", "exploded"]}, "notify_transitions"),
    ({"default_group": "g", "notify_transitions": []}, "notify_transitions"),
    ({"default_group": "g", "blue": "sometimes"}, "blue"),
    ({"default_group": "g", "rate_limt": {}}, "rate_limt"),
])
def test_a_bad_config_names_the_field(data, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        load_notify_config(data, "notify.yaml")
    with pytest.raises(ValueError):
        NotifyConfig.model_validate(data)


def test_a_real_engine_warning_becomes_a_valid_notification():
    w = World(rulebook(only=["repair.arrival_overdue"]))
    w.send("ticket.created", 0, ticket_id="T9", district_id="D2", area_type="urban", category="no_power",
           priority="normal")
    w.run(50)
    assert w.warnings
    notifier = Notifier(CONFIG, DISTRICTS)
    state = None
    for x in w.warnings:
        group = notifier.route(x)
        assert group == "river-duty"
        state, notes = notifier.on_warning(state, x, group, T0 + 3000)
        for n in valid(notes):
            assert n["text_zh"].startswith(("【黄色预警】Riverside 工单T9", "【橙色预警】升级(原黄色) Riverside 工单T9"))


def test_blue_changes_other_than_raise_and_resolve_are_not_notified_by_default():
    story = [warning(seq=1, severity="yellow"),
             warning(seq=2, transition="de-escalated", severity="blue", prev="yellow"),
             warning(seq=3, transition="resolved", severity="blue")]
    every = ["raised", "escalated", "de-escalated", "resolved"]
    _, notes, _ = feed(Notifier(NotifyConfig(default_group="g", notify_transitions=every), DISTRICTS), story)
    assert [n["transition"] for n in notes] == ["raised", "resolved"]
    _, notes, _ = feed(Notifier(NotifyConfig(default_group="g", notify_transitions=every, blue="all"),
                                DISTRICTS), story)
    assert [n["transition"] for n in notes] == ["raised", "de-escalated", "resolved"]
