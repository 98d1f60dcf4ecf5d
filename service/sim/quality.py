"""Detection quality: the warnings a run produced against the ground truth.

A truth entry is detected when a raise of the same rule has a scope that
contains the entry's scope (a ticket warning's scope also names its district
and crew). Per rule:

- recall: truth entries detected / truth entries;
- precision: raises that match some truth entry / raises (a warning raised
  again after it resolved, for the same incident, still counts as true);
- delay: the first matching raise's `first_fired_at` minus the earliest
  possible time (minutes; the engine stamps transitions with the moment the
  threshold was crossed, so this is 0 when it is exact), with its p50, p90
  and max over the rule's detections;
- latency: when the warnings carry `detected_at` (the event-time clock when
  the engine produced them, see engine_run.py), that minus the earliest time:
  what tick granularity and window lateness cost (p50, p90, max too).

Warnings in the scenario's quiet districts are listed separately: there, any
warning is a false alarm.

`sms` runs the warnings, in the order the engine produced them, through the
notification path (service/core/notify.py, shipped defaults) and counts the
texts sent, folded into summaries by the rate limit, and held back, with those
storm mode held back (warnings marked suppressed by `storm_mode`) and the
per-ticket repair texts sent in a district before its storm mode was declared.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from datetime import UTC, datetime

from ..core.timefmt import to_epoch, to_rfc3339


def _raises(warnings: list[dict]) -> list[dict]:
    out = []
    for w in warnings:
        kind = w.get("transition")
        first = w.get("status") == "firing" and w.get("changed_at") == w.get("first_fired_at")
        if kind == "raised" or (kind is None and first):
            out.append(w)
    return out


def _matches(truth: dict, w: dict) -> bool:
    return w["rule_id"] == truth["rule_id"] and all(w.get("scope", {}).get(k) == v for k, v in truth["scope"].items())


def _expected(truth) -> list[dict]:
    return truth["expected"] if isinstance(truth, dict) else list(truth)


def evaluate(truth, warnings: list[dict], quiet: list[str] | None = None) -> dict:
    """The quality report as a JSON-ready dict (see the module docstring)."""
    expected = _expected(truth)
    if quiet is None and isinstance(truth, dict):
        quiet = truth.get("quiet_districts", [])
    quiet = set(quiet or [])
    raises = _raises(warnings)
    rules = sorted({t["rule_id"] for t in expected} | {w["rule_id"] for w in raises})
    per_rule: dict[str, dict] = {r: {"expected": 0, "detected": 0, "raised": 0, "raised_true": 0, "delays_min": [],
                                     "latencies_min": [], "within_tolerance": 0, "missed": []} for r in rules}
    by_rule: dict[str, list[dict]] = defaultdict(list)
    for w in raises:
        by_rule[w["rule_id"]].append(w)
    detections = []
    for t in expected:
        row = per_rule[t["rule_id"]]
        row["expected"] += 1
        hits = sorted((w for w in by_rule[t["rule_id"]] if _matches(t, w)), key=lambda w: to_epoch(w["first_fired_at"]))
        if not hits:
            row["missed"].append({"scope": t["scope"], "earliest_at": t.get("earliest_at")})
            continue
        first = hits[0]
        delay = to_epoch(first["first_fired_at"]) - t["earliest"]
        row["detected"] += 1
        row["delays_min"].append(round(delay / 60, 3))
        if first.get("detected_at"):
            row["latencies_min"].append(round((to_epoch(first["detected_at"]) - t["earliest"]) / 60, 3))
        tolerance = t.get("tolerance_s", 60.0)
        if abs(delay) <= tolerance:
            row["within_tolerance"] += 1
        detections.append({"rule_id": t["rule_id"], "scope": t["scope"], "earliest_at": t.get("earliest_at"),
                           "first_fired_at": first["first_fired_at"], "delay_min": round(delay / 60, 3),
                           "tolerance_min": tolerance / 60})
    for r, ws in by_rule.items():
        truths = [t for t in expected if t["rule_id"] == r]
        per_rule[r]["raised"] = len(ws)
        per_rule[r]["raised_true"] = sum(any(_matches(t, w) for t in truths) for w in ws)
    for row in per_rule.values():
        row["recall"] = row["detected"] / row["expected"] if row["expected"] else None
        row["precision"] = row["raised_true"] / row["raised"] if row["raised"] else None
        d = row.pop("delays_min")
        lat = row.pop("latencies_min")
        row["delay_min"] = _stats(d)
        row["latency_min"] = _stats(lat)
    quiet_alarms = [{"rule_id": w["rule_id"], "scope": w["scope"], "first_fired_at": w["first_fired_at"]}
                    for w in raises if w.get("scope", {}).get("district_id") in quiet]
    total_expected = sum(r["expected"] for r in per_rule.values())
    total_raised = sum(r["raised"] for r in per_rule.values())
    reference = truth.get("reference") if isinstance(truth, dict) else None
    return {
        "sms": sms(warnings, reference),
        "scenario": truth.get("scenario") if isinstance(truth, dict) else None,
        "rules": per_rule,
        "overall": {
            "expected": total_expected,
            "detected": sum(r["detected"] for r in per_rule.values()),
            "raised": total_raised,
            "raised_true": sum(r["raised_true"] for r in per_rule.values()),
            "recall": (sum(r["detected"] for r in per_rule.values()) / total_expected) if total_expected else None,
            "precision": (sum(r["raised_true"] for r in per_rule.values()) / total_raised) if total_raised else None,
            "within_tolerance": sum(r["within_tolerance"] for r in per_rule.values()),
        },
        "quiet_district_warnings": quiet_alarms,
        "detections": detections,
    }


def _stats(values: list[float]) -> dict | None:
    if not values:
        return None
    s = sorted(values)
    return {"mean": round(sum(s) / len(s), 3), "median": s[len(s) // 2], "max": s[-1], "min": s[0],
            "p50": _percentile(s, 0.5), "p90": _percentile(s, 0.9)}


def _percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank percentile of sorted values (a value that occurred)."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


STORM_RULE = "reliability.storm_mode"
PER_TICKET = ("repair.arrival_overdue", "repair.restore_overdue")  # the shipped storm_inhibits


def sms(warnings: list[dict], reference: dict | None = None, default_group: str = "ops") -> dict:
    """What the notification path makes of the warnings (module doc), counted."""
    from ..core.notify import Notifier, NotifyConfig
    from ..core.reference import load_reference

    districts = load_reference(reference, "simulated reference") if reference else {}
    notifier = Notifier(NotifyConfig(default_group=default_group), districts)
    groups: dict[str, dict | None] = {}
    sent: Counter = Counter()
    skipped: Counter = Counter()
    storm_held, summaries = 0, 0
    per_ticket: dict[str, list[float]] = defaultdict(list)  # district -> when its per-ticket texts went out
    storm_on: dict[str, float] = {}  # district -> when its storm mode was declared
    # whole warning messages only (a report may be asked of bare raises, which no SMS is made of)
    ordered = sorted((w for w in warnings if "warning_id" in w and "fingerprint" in w and "changed_at" in w),
                     key=lambda w: to_epoch(w.get("detected_at") or w["changed_at"]))
    for w in ordered:
        now = to_epoch(w.get("detected_at") or w["changed_at"])
        district = (w.get("scope") or {}).get("district_id")
        if w["rule_id"] == STORM_RULE and w["status"] == "firing" and district:
            storm_on.setdefault(district, to_epoch(w["changed_at"]))
        group = notifier.route(w)
        outcome = notifier.on_warning(groups.get(group), w, group, now)
        groups[group] = outcome.state
        skipped.update(outcome.skipped)
        if w.get("suppressed") and "storm_mode" in (w.get("suppressed_by") or []):
            storm_held += 1
        for note in outcome.notifications:
            if note.get("kind") == "summary":
                summaries += 1
                continue
            sent[note["rule_id"]] += 1
            if note["rule_id"] in PER_TICKET:
                per_ticket[note.get("district_id") or "?"].append(now)
    for group, state in groups.items():  # the rate-limit windows still open close with their summary
        outcome = notifier.on_tick(state, group, math.inf if not ordered else
                                   to_epoch(ordered[-1].get("detected_at") or ordered[-1]["changed_at"]) + 86400)
        summaries += sum(1 for n in outcome.notifications if n.get("kind") == "summary")
    return {"sent": sum(sent.values()), "summaries": summaries, "sent_by_rule": dict(sorted(sent.items())),
            "folded": skipped.get("folded", 0), "held_back": {k: v for k, v in sorted(skipped.items())
                                                              if k != "folded"},
            "held_back_by_storm_mode": storm_held, "storm_declared": {d: to_rfc3339(t) for d, t in storm_on.items()},
            # in each district that went into storm mode: per-ticket texts sent before and after it was declared
            "per_ticket_sent_around_storm_mode": {d: {"before": sum(t < at for t in per_ticket[d]),
                                                      "after": sum(t >= at for t in per_ticket[d])}
                                                  for d, at in sorted(storm_on.items())}}


def _fmt(x, pct: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:.2f}" if not pct else f"{x * 100:.0f}%"


def table(report: dict) -> str:
    """A fixed-width table, one line per rule, then the totals."""
    head = f"{'rule':30} {'expected':>8} {'found':>6} {'raised':>6} {'recall':>7} {'precision':>9} " \
           f"{'delay p50/p90/max (min)':>24} {'latency p50/p90/max':>20}"
    lines = [head, "-" * len(head)]

    def spread(s):
        return f"{s['p50']:.1f}/{s['p90']:.1f}/{s['max']:.1f}" if s else "-"

    for rule, r in sorted(report["rules"].items()):
        delay, latency = spread(r["delay_min"]), spread(r["latency_min"])
        lines.append(f"{rule:30} {r['expected']:>8} {r['detected']:>6} {r['raised']:>6} {_fmt(r['recall']):>7} "
                     f"{_fmt(r['precision']):>9} {delay:>24} {latency:>20}")
    o = report["overall"]
    lines.append("-" * len(head))
    lines.append(f"{'all rules':30} {o['expected']:>8} {o['detected']:>6} {o['raised']:>6} {_fmt(o['recall']):>7} "
                 f"{_fmt(o['precision']):>9}")
    quiet = report["quiet_district_warnings"]
    lines.append(f"warnings in quiet districts: {len(quiet)}"
                 + "".join(f"\n  {q['rule_id']} {q['scope']} at {q['first_fired_at']}" for q in quiet[:10]))
    s = report.get("sms")
    if s:
        lines.append(f"SMS: {s['sent']} texts and {s['summaries']} summaries sent, {s['folded']} folded by the "
                     f"rate limit, {s['held_back_by_storm_mode']} held back by storm mode"
                     + "".join(f"\n  storm mode in {d} from {at}: per-ticket texts sent before "
                               f"{s['per_ticket_sent_around_storm_mode'][d]['before']}, after "
                               f"{s['per_ticket_sent_around_storm_mode'][d]['after']}"
                               for d, at in s["storm_declared"].items()))
    missed = [(rule, m) for rule, r in report["rules"].items() for m in r["missed"]]
    if missed:
        lines.append(f"missed: {len(missed)}" + "".join(f"\n  {rule} {m['scope']} (earliest {m['earliest_at']})"
                                                       for rule, m in missed[:10]))
    return "\n".join(lines)


def save_json(report: dict, path: str) -> None:
    with open(path, "w") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)


SEVERITY_COLOURS = {"blue": "#1f77b4", "yellow": "#e6b800", "orange": "#ff7f0e", "red": "#d62728"}


def plot(truth, warnings: list[dict], path: str, title: str | None = None) -> None:
    """Warnings over time, one panel per district: a bar per warning from raise to resolve
    (coloured by its highest severity), a black tick at each expected earliest time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    expected = _expected(truth)
    by_fp: dict[str, list[dict]] = defaultdict(list)
    for w in warnings:
        by_fp[w["fingerprint"]].append(w)
    districts = sorted({w.get("scope", {}).get("district_id") or "?" for w in warnings}
                       | {t.get("district_id") or "?" for t in expected}
                       | set(truth.get("quiet_districts", []) if isinstance(truth, dict) else []))
    if not districts:
        districts = ["?"]
    rules = sorted({w["rule_id"] for w in warnings} | {t["rule_id"] for t in expected}) or ["(none)"]
    row = {r: i for i, r in enumerate(rules)}
    end_guess = max([to_epoch(w["changed_at"]) for w in warnings] + [t["earliest"] for t in expected] + [0])
    if isinstance(truth, dict) and truth.get("end_epoch"):
        end_guess = truth["end_epoch"]
    fig, axes = plt.subplots(len(districts), 1, figsize=(12, 1.2 + 0.35 * len(rules) * len(districts)),
                             sharex=True, squeeze=False)
    rank = {"blue": 0, "yellow": 1, "orange": 2, "red": 3}
    for ax, district in zip(axes[:, 0], districts, strict=True):
        for msgs in by_fp.values():
            if (msgs[0].get("scope", {}).get("district_id") or "?") != district:
                continue
            msgs = sorted(msgs, key=lambda w: to_epoch(w["changed_at"]))
            start = None
            worst = "blue"
            for w in msgs:
                if w["status"] == "firing":
                    if start is None:
                        start, worst = to_epoch(w["changed_at"]), w["severity"]
                    worst = max(worst, w["severity"], key=rank.get)
                elif start is not None:
                    _bar(ax, row[w["rule_id"]], start, to_epoch(w["changed_at"]), worst)
                    start = None
            if start is not None:
                _bar(ax, row[msgs[0]["rule_id"]], start, end_guess, worst)
        xs = [(datetime.fromtimestamp(t["earliest"], UTC).replace(tzinfo=None), row[t["rule_id"]]) for t in expected
              if (t.get("district_id") or "?") == district]
        if xs:
            ax.scatter([x for x, _ in xs], [y for _, y in xs], marker="|", s=120, color="black", zorder=3)
        quiet = isinstance(truth, dict) and district in truth.get("quiet_districts", [])
        ax.set_ylabel(f"{district}{' (quiet)' if quiet else ''}", rotation=0, ha="right", va="center")
        ax.set_yticks(range(len(rules)))
        ax.set_yticklabels(rules, fontsize=6)
        ax.set_ylim(-0.7, len(rules) - 0.3)
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    fig.autofmt_xdate()
    fig.suptitle(f"{title or 'Warnings over time'} (UTC; bars: firing, colour: highest severity; "
                 "ticks: expected earliest)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bar(ax, y: int, start: float, end: float, severity: str) -> None:
    from datetime import timedelta

    width = max(end - start, 300.0)
    ax.barh(y, timedelta(seconds=width), left=datetime.fromtimestamp(start, UTC).replace(tzinfo=None), height=0.6,
            color=SEVERITY_COLOURS.get(severity, "grey"), alpha=0.8)
