"""The warnings topic, readable, as it happens.

`risk-warnings follow` prints each state change as it is published. `risk-warnings watch`
is the demo's terminal: the changes in event-time order, one line each, suppressed ones
marked, a running summary and, on request, a table per rule.
"""

from __future__ import annotations

import heapq
import json
import re
import shutil
import signal
import sys
import time
from collections import Counter, defaultdict

from kafka import KafkaConsumer

from .config import Settings

COLOURS = {"blue": "\033[34m", "yellow": "\033[33m", "orange": "\033[38;5;208m", "red": "\033[31m"}
RESOLVED, RESET, DIM = "\033[32m", "\033[0m", "\033[2m"
ANSI = re.compile(r"\033\[[0-9;]*m")


def render(w: dict, colour: bool = True) -> str:
    scope = " ".join(f"{k}={v}" for k, v in w["scope"].items())
    tag = f"{w['transition'].upper():<12} {w['severity']:<6}"
    if colour:
        tag = (RESOLVED if w["status"] == "resolved" else COLOURS.get(w["severity"], "")) + tag + RESET
    m = w["metric"]
    value = "no samples" if w.get("no_samples") else f"{m['value']:g} {m['unit']}"
    return (f"{w['changed_at'][:19]} {tag} {w['rule_id']:<24} {scope}\n"
            f"    {m['name']}={value} (threshold {m['threshold']:g})  {w['summary']}")


def follow(settings: Settings, from_beginning: bool = False, limit: int | None = None) -> int:
    consumer = KafkaConsumer(
        settings.topics.risk_warnings,
        bootstrap_servers=settings.kafka_bootstrap.split(","),
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
        group_id=None,
        **settings.kafka_security.client_options(),
    )
    colour = sys.stdout.isatty()
    seen = 0
    try:
        for record in consumer:
            print(render(json.loads(record.value), colour), flush=True)
            seen += 1
            if limit is not None and seen >= limit:
                break
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0


# --- the demo's terminal -------------------------------------------------------

TRANSITIONS = ("raised", "escalated", "de-escalated", "resolved")
SEVERITIES = ("red", "orange", "yellow", "blue")


def one_line(w: dict, colour: bool = True) -> str:
    """One state change on one line."""
    scope = " ".join(f"{k}={v}" for k, v in w["scope"].items() if k != "district_id")
    tag = f"{w['transition'].upper():<12} {w['severity']:<6}"
    if colour:
        tag = (RESOLVED if w["status"] == "resolved" else COLOURS.get(w["severity"], "")) + tag + RESET
    return (f"{w['changed_at'][:16].replace('T', ' ')} {tag} {w['rule_id']:<30} "
            f"{w['scope'].get('district_id', '-'):<8} {scope:<28} {w['summary']}")


def story(changes: list[dict], colour: bool = True) -> list[str]:
    """Lines for changes in event-time order: one a change, except suppressed changes (their
    notifications held back, e.g. in storm mode), folded into one marked line per rule,
    district and reason, standing where the first of them stood."""
    lines: list[str] = []
    folded: dict[tuple, tuple[int, Counter, list[str]]] = {}  # key -> (line index, transitions, times)
    for w in changes:
        if not w.get("suppressed"):
            lines.append(one_line(w, colour))
            continue
        key = (w["rule_id"], w["scope"].get("district_id", "-"), ", ".join(w.get("suppressed_by") or ["suppressed"]))
        if key not in folded:
            folded[key] = (len(lines), Counter(), [])
            lines.append("")
        folded[key][1][w["transition"]] += 1
        folded[key][2].append(w["changed_at"][:16].replace("T", " "))
    tag = f"{'HELD BACK':<12} {'':<6}"
    if colour:
        tag = DIM + tag + RESET
    for (rule, district, reasons), (i, counts, times) in folded.items():
        what = ", ".join(f"{counts[t]} {t}" for t in TRANSITIONS if counts[t])
        until = f" up to {times[-1][11:]}" if times[-1] != times[0] else ""
        lines[i] = f"{times[0]} {tag} {rule:<30} {district:<8} {what}{until} (notifications held back: {reasons})"
    return lines


def clip(line: str, width: int | None) -> str:
    """A line cut to the terminal's width, colour codes not counted."""
    if width is None or len(ANSI.sub("", line)) <= width:
        return line
    out, shown = [], 0
    for part in ANSI.split(line):  # text between codes; the codes themselves are kept
        out.append(part[: max(width - 1 - shown, 0)])
        shown += len(out[-1])
    codes = ANSI.findall(line)
    return "".join(p + (codes[i] if i < len(codes) else "") for i, p in enumerate(out)) + "…"


class Watch:
    """Warning state changes in event-time order, with running counts.

    Changes published by different partitions arrive a little out of order; each is
    held `hold_seconds` of wall time and then printed in `changed_at` order, so the
    terminal reads as a story. Counts are per rule and transition; what is firing
    now and which districts are in storm mode follow every change.
    """

    def __init__(self, hold_seconds: float = 2.0):
        self.hold = hold_seconds
        self._pending: list[tuple[str, int, float, dict]] = []  # heap of (changed_at, seq, arrived, warning)
        self._seq = 0
        self._seen: set[str] = set()
        self.by_rule: dict[str, Counter] = defaultdict(Counter)
        self.firing: dict[str, tuple[str, str]] = {}  # fingerprint -> (rule, severity)
        self.storm: set[str] = set()
        self.clock = ""  # changed_at of the newest change counted

    def add(self, w: dict, arrived: float) -> None:
        wid = w.get("warning_id")
        if wid in self._seen:  # a redelivery after a worker restart
            return
        self._seen.add(wid)
        self._seq += 1
        heapq.heappush(self._pending, (w["changed_at"], self._seq, arrived, w))
        counts = self.by_rule[w["rule_id"]]
        counts[w["transition"]] += 1
        if w.get("suppressed"):
            counts["held"] += 1
        if w["status"] == "firing":
            self.firing[w["fingerprint"]] = (w["rule_id"], w["severity"])
        else:
            self.firing.pop(w["fingerprint"], None)
        if w["rule_id"] == "reliability.storm_mode" and "district_id" in w["scope"]:
            (self.storm.add if w["status"] == "firing" else self.storm.discard)(w["scope"]["district_id"])
        self.clock = max(self.clock, w["changed_at"])

    def ready(self, now: float) -> list[dict]:
        """The changes held long enough, oldest event time first."""
        out = []
        while self._pending and self._pending[0][2] <= now - self.hold:
            out.append(heapq.heappop(self._pending)[3])
        return out

    def flush(self) -> list[dict]:
        out = [heapq.heappop(self._pending)[3] for _ in range(len(self._pending))]
        return out

    def summary(self) -> str:
        changes = sum(sum(c[t] for t in TRANSITIONS) for c in self.by_rule.values())
        held = sum(c["held"] for c in self.by_rule.values())
        severities = Counter(s for _, s in self.firing.values())
        firing = ", ".join(f"{severities[s]} {s}" for s in SEVERITIES if severities[s]) or "none"
        storm = ", ".join(sorted(self.storm)) or "none"
        at = self.clock[:16].replace("T", " ") or "-"
        return (f"[{at}] {changes} changes ({held} held back) | firing now: {firing} | "
                f"storm mode: {storm}")

    def table(self) -> list[str]:
        head = f"{'rule':<32}{'raised':>8}{'escal.':>8}{'de-esc.':>8}{'resolved':>9}{'held':>6}{'firing':>8}"
        firing = Counter(rule for rule, _ in self.firing.values())
        lines = [head, "-" * len(head)]
        for rule in sorted(self.by_rule):
            c = self.by_rule[rule]
            lines.append(f"{rule:<32}{c['raised']:>8}{c['escalated']:>8}{c['de-escalated']:>8}"
                         f"{c['resolved']:>9}{c['held']:>6}{firing[rule]:>8}")
        if len(lines) == 2:
            lines.append("(no warning state changes)")
        return lines


def watch(settings: Settings, hold_seconds: float = 2.0, summary_every: float = 10.0) -> int:
    """The demo's view of the warnings topic, from its beginning, until SIGTERM or Ctrl-C.

    SIGUSR1 prints everything held and the table per rule, then watching goes on.
    On a terminal the running summary is one line redrawn in place; elsewhere it is
    printed every `summary_every` seconds.
    """
    consumer = KafkaConsumer(
        settings.topics.risk_warnings, bootstrap_servers=settings.kafka_bootstrap.split(","),
        auto_offset_reset="earliest", enable_auto_commit=False, group_id=None,
        **settings.kafka_security.client_options())
    tty = sys.stdout.isatty()
    width = shutil.get_terminal_size().columns if tty else None
    view = Watch(hold_seconds)
    asked: list[str] = []
    signal.signal(signal.SIGUSR1, lambda *_: asked.append("table"))
    signal.signal(signal.SIGTERM, lambda *_: asked.append("stop"))
    status_shown, live_status, last_summary = False, True, time.monotonic()

    def emit(lines: list[str]) -> None:
        nonlocal status_shown
        if tty and status_shown:
            sys.stdout.write("\r\033[K")
            status_shown = False
        for line in lines:
            sys.stdout.write(clip(line, width) + "\n")

    try:
        while "stop" not in asked:
            for records in consumer.poll(timeout_ms=250).values():
                for record in records:
                    try:
                        view.add(json.loads(record.value), time.monotonic())
                    except (ValueError, KeyError, TypeError):
                        continue
            emit(story(view.ready(time.monotonic()), tty))
            if "table" in asked:  # the stream has ended: the table, then only new changes
                asked.remove("table")
                emit(story(view.flush(), tty) + ["", view.summary(), *view.table(), ""])
                live_status = False
            if tty and live_status:
                sys.stdout.write("\r\033[K" + view.summary()[:shutil.get_terminal_size().columns - 1])
                status_shown = True
            elif live_status and time.monotonic() - last_summary >= summary_every:
                emit([view.summary()])
                last_summary = time.monotonic()
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    finally:
        emit(story(view.flush(), tty))
        sys.stdout.flush()
        consumer.close()
    return 0
