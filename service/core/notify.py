"""SMS notifications: which warning state changes a recipient group hears about, and in what words.

Owns the decision between a warning message (topic `risk-warnings`) and a
short text for the SMS gateway (`risk-notifications`): routing to the
district's recipient group, the Chinese and English texts within the SMS
limits, per-group rate limiting with a summary for the excess, holding back
suppressed and flapping warnings, and never notifying a state change twice.
Pure: time is passed in and a group's state is a plain JSON-able dict, so the
shell keeps it in a table keyed by recipient group and replays give the same
notifications as live operation.

Decisions (see also NotifyConfig):
- Notified by default: raised, escalated, resolved. De-escalations are not
  (the officer already acts on the higher level); `notify_transitions` adds them.
- A resolve is notified only if the group was told the warning fires (its raise,
  an escalation, or a summary that counted it). A warning whose changes were
  all suppressed therefore resolves silently; a warning first seen unsuppressed
  after suppressed changes (storm mode ended) is notified as news, whatever
  its transition. A suppressed resolve is not notified either (suppression
  wins; the warning is on the warnings topic and the console).
- Blue (information, e.g. storm mode): by default only its raise and its resolve.
- Flapping: `flapping.changes` state changes of one fingerprint within
  `flapping.history_seconds` mark it flapping. The group gets one "flapping"
  text; further changes are held. It settles after `flapping.settle_seconds`
  with no change; then one "settled" text gives its final state (on a tick),
  or, if a new change arrives first, that change is notified normally.
- Rate limit: fixed windows per group, opened by the first message. Beyond
  `max_messages` in a window, notifications are folded into a pending summary
  (counted by severity and rule, nothing dropped). When the window ends (on a
  tick or the next warning) ONE summary text goes out and opens the next window.
- Duplicates: every warning_id handled is remembered (last `remember_warning_ids`
  per group, as 8-character digests in one string: fingerprint.id_digest) and
  skipped when redelivered. Notification ids are derived
  (warning id plus a suffix, or group plus summary number), so a notification
  re-sent after a crash carries the same id and the gateway can drop it.
- Memory per group: a fingerprint is forgotten once it is not flapping, the group
  was not told it fires, and it has not changed for `flapping.history_seconds`
  (what is left of it is what a new entry would hold). Groups look for such
  entries at most every PRUNE_SECONDS of their own time, and whenever they hold
  more than `max_fingerprints`; beyond that bound, the fingerprints whose last
  change arrived longest ago are forgotten, down to 1/64 below the bound (their
  resolve may then go unnotified). A group in a storm holds thousands: a copy,
  a scan and a sort of them per warning took ~1 ms at the bound (bench.flood_cost).
- Texts never carry account_id, customer_id or staff_id (personal data): an
  account- or staff-scoped warning shows its rule and district only.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import Counter
from collections.abc import Mapping
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from schemas.common import Id
from schemas.warnings import GSM_BASIC

from .fingerprint import DIGEST_CHARS, id_digest, remembers
from .state import GROUP_VERSION, migrate_group
from .timefmt import to_rfc3339
from .warning_state import RANK, SEVERITIES

ZH_LIMIT = 70  # UTF-16 code units
EN_LIMIT = 160  # GSM 03.38 basic characters
MAX_ID = 128  # notification_id, warning_id, fingerprint on the wire
PRUNE_SECONDS = 60.0  # of a group's own time: how often it looks for fingerprints to forget
# A group's state is one Kafka record (its table's changelog): under the 1 MiB default limit.
STATE_BUDGET_BYTES = 768 * 1024
ENTRY_BYTES_AT_MOST = 2048  # a fingerprint's entry, flapping (with its last change's snapshot), long ids

Transition = Literal["raised", "escalated", "de-escalated", "resolved"]


# --- configuration -----------------------------------------------------------


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimit(_Config):
    """At most `max_messages` texts per recipient group per fixed window."""

    max_messages: int = Field(10, ge=1)  # texts per group per window; the excess is folded into one summary
    window_seconds: float = Field(600.0, gt=0)  # length of the fixed rate-limit window


class Flapping(_Config):
    """`changes` state changes within `history_seconds` make a warning flapping."""

    changes: int = Field(6, ge=2)  # state changes that make a warning flapping
    history_seconds: float = Field(3600.0, gt=0)  # ... within this long
    settle_seconds: float = Field(1800.0, gt=0)  # quiet time after which it is no longer flapping


class Summary(_Config):
    """The text that stands for the notifications folded by the rate limit."""

    rules_named: int = Field(2, ge=0, le=5)  # most frequent rules named in the text


class NotifyConfig(_Config):
    default_group: Id  # warnings without a known district
    rate_limit: RateLimit = RateLimit()
    summary: Summary = Summary()
    flapping: Flapping = Flapping()
    # which state changes are sent (de-escalations are not, by default)
    notify_transitions: frozenset[Transition] = frozenset({"raised", "escalated", "resolved"})
    # none: never; raise_resolve: its raise and its resolve only; all: like any severity
    blue: Literal["none", "raise_resolve", "all"] = "raise_resolve"
    remember_warning_ids: int = Field(1024, ge=1)  # per group, for redelivery
    max_fingerprints: int = Field(5000, ge=1)  # per group; the oldest are forgotten beyond it

    @field_validator("notify_transitions")
    @classmethod
    def _some(cls, v: frozenset[str]) -> frozenset[str]:
        if not v:
            raise ValueError("at least one transition is needed (raised, escalated, de-escalated, resolved)")
        return v


def load_notify_config(data: Any, source: str = "notify") -> NotifyConfig:
    """NotifyConfig from a mapping; ValueError naming the source and the field."""
    try:
        return NotifyConfig.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ValueError(f"{source}: {loc}: {err['msg']}") from None


# --- routing -----------------------------------------------------------------


def _district(districts: Mapping[str, Any], district_id: str | None) -> Any:
    return districts.get(district_id) if district_id else None


def _attr(d: Any, name: str) -> Any:
    return d.get(name) if isinstance(d, Mapping) else getattr(d, name, None)


def route(warning: dict, districts: Mapping[str, Any], default_group: str) -> str:
    """The recipient group of the warning's district, or `default_group`."""
    d = _district(districts, (warning.get("scope") or {}).get("district_id"))
    return (_attr(d, "recipient_group") if d is not None else None) or default_group


# --- texts -------------------------------------------------------------------

SEVERITY_ZH = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
SEVERITY_EN = {"blue": "BLUE", "yellow": "YELLOW", "orange": "ORANGE", "red": "RED"}

# Short titles; a rule missing here is named by its rule_id.
RULE_TITLES = {
    "repair.arrival_overdue": ("抢修到场超时", "crew arrival overdue"),
    "repair.restore_overdue": ("抢修复电超时", "restoration overdue"),
    "repair.arrival_p90": ("到场时长P90超限", "p90 crew arrival too long"),
    "repair.sla_breach_ratio": ("到场超时率高", "late crew ratio high"),
    "outage.notice_late": ("停电信息发布迟", "outage notice late"),
    "outage.notice_short": ("停电通知提前不足", "outage notice too short"),
    "outage.long_duration": ("停电时间过长", "outage too long"),
    "outage.frequent_feeder": ("线路频繁停电", "frequent outages on feeder"),
    "reliability.storm_mode": ("灾害应急模式", "storm mode"),
    "complaints.surge": ("投诉激增", "complaint surge"),
    "complaints.staff_repeat": ("员工被重复投诉", "repeat complaints on staff"),
    "complaints.billing_errors": ("电费差错投诉多", "billing error complaints"),
    "satisfaction.low": ("满意度低", "low satisfaction"),
    "satisfaction.low_staff": ("员工满意度低", "low staff satisfaction"),
    "followup.missing": ("修后回访缺失", "follow-up visit missing"),
    "followup.dissatisfied_ratio": ("回访不满意率高", "dissatisfied follow-ups"),
    "billing.flagged_arrears": ("风险客户欠费", "arrears of flagged account"),
    "billing.overdue_large": ("大额欠费逾期", "large overdue arrears"),
    "billing.collection_rate": ("电费回收率低", "low fee collection rate"),
    "meter.alarm_surge": ("计量告警激增", "meter alarm surge"),
    "meter.tamper_suspected": ("疑似窃电", "suspected meter tampering"),
}

# Scope keys shown in a text, in this order. account_id and staff_id are
# personal data and never shown; the district is shown separately.
SHOWN_SCOPE = (("ticket_id", "工单", "ticket"), ("outage_id", "停电", "outage"),
               ("feeder_id", "线路", "feeder"), ("crew_id", "班组", "crew"))

UNIT_ZH = {"min": "分钟", "h": "小时", "CNY": "元", "complaints": "件", "alarms": "次", "outages": "次",
           "count": "次", "kinds": "种", "score": "分"}

_CAPS = (64, 24, 12, 6, 3)  # successive caps on variable fields until a text fits


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _clean_zh(text: str) -> str:
    # Control characters and lone surrogates cannot travel in an SMS.
    return "".join("?" if (ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF) else c for c in str(text))


def _clean_en(text: str) -> str:
    return "".join(c if c in GSM_BASIC and c not in "\r\n" else "?" for c in str(text))


def _cap(text: str, n: int, ellipsis: str) -> str:
    return text if len(text) <= n else text[: max(n - len(ellipsis), 1)] + ellipsis


def _cut_zh(text: str) -> str:
    if _utf16(text) <= ZH_LIMIT:
        return text
    while _utf16(text) > ZH_LIMIT - 1:
        text = text[:-1]
    return text + "…"


def _cut_en(text: str) -> str:
    return text if len(text) <= EN_LIMIT else text[: EN_LIMIT - 3] + "..."


def _fit(build, measure, limit: int, cut) -> str:
    """The first text from build(cap) that fits, shortening variable fields; a hard cut last."""
    text = ""
    for cap in _CAPS:
        text = build(cap)
        if measure(text) <= limit:
            return text
    return cut(text)


def _num(v: Any) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "?"
    if not math.isfinite(v):
        return "?"
    if abs(v) >= 1e7:
        return f"{v:.3g}"
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _amount(v: Any, unit: str, zh: bool) -> str:
    if unit == "ratio":
        try:
            return _num(float(v) * 100) + "%"
        except (TypeError, ValueError, OverflowError):
            return "?"
    if zh:
        return _num(v) + UNIT_ZH.get(unit, unit)
    return f"{_num(v)} {unit}" if unit else _num(v)


def _transition(warning: dict) -> str:
    if warning.get("transition"):
        return warning["transition"]
    if warning.get("status") == "resolved":
        return "resolved"
    prev = warning.get("previous_severity")
    if prev is None:
        return "raised"
    return "escalated" if RANK[warning["severity"]] > RANK[prev] else "de-escalated"


def short_texts(warning: dict, district_name: str | None, kind: str = "change") -> tuple[str, str]:
    """(text_zh, text_en) for one warning state change, within the SMS limits.

    `kind` is "change" (the state change itself), "flapping" (it changes too
    often; further changes held) or "settled" (it stopped flapping; its final
    state). Composed from rule, severity, scope and metric, shortening ids
    with an ellipsis when needed; never the long summary cut off.
    """
    scope = warning.get("scope") or {}
    metric = warning.get("metric") or {}
    sev, prev = warning["severity"], warning.get("previous_severity")
    transition = _transition(warning)
    rule_id = warning["rule_id"]
    title_zh, title_en = RULE_TITLES.get(rule_id, (rule_id, rule_id))
    district_id = scope.get("district_id")
    unit = str(metric.get("unit") or "")
    shown = [(zh, en, scope[k]) for k, zh, en in SHOWN_SCOPE if scope.get(k)]
    value, threshold = metric.get("value"), metric.get("threshold")
    resolved = transition == "resolved" if kind == "change" else warning.get("status") == "resolved"
    empty = bool(warning.get("no_samples"))  # its window emptied: the value 0 means nothing

    def zh(cap: int) -> str:
        c = lambda s: _cap(_clean_zh(s), cap, "…")  # noqa: E731
        where = c(district_name or district_id or "")
        where += "".join(f" {label}{c(v)}" for label, _, v in shown)
        where = f"{where} " if where else ""
        title = c(title_zh)
        now = c(_amount(value, unit, True))
        limit = c(_amount(threshold, unit, True))
        word = f"{SEVERITY_ZH[sev]}预警"
        if kind == "flapping":
            return f"【{word}】{where}{title}状态频繁变化，暂停逐条通知，请查看预警平台。"
        if kind == "settled":
            if resolved:
                return f"【{word}解除】{where}{title}已停止频繁变化，已解除。"
            return f"【{word}】{where}{title}已停止频繁变化，仍在预警：{now}。"
        if transition == "resolved":
            return f"【{word}解除】{where}{title}，{'窗口内无样本' if empty else '现值' + now}。"
        if transition == "escalated":
            was = f"(原{SEVERITY_ZH[prev]})" if prev in SEVERITY_ZH else ""
            return f"【{word}】升级{was} {where}{title}：{now}，阈值{limit}。"
        if transition == "de-escalated":
            was = f"(原{SEVERITY_ZH[prev]})" if prev in SEVERITY_ZH else ""
            return f"【{word}】降级{was} {where}{title}：{now}。"
        return f"【{word}】{where}{title}：{now}，阈值{limit}。"

    en_name = district_name if district_name and all(ch in GSM_BASIC for ch in district_name) else None

    def en(cap: int) -> str:
        c = lambda s: _cap(_clean_en(s), cap, "...")  # noqa: E731
        where = c(en_name or district_id or "")
        where += "".join(f" {label} {c(v)}" for _, label, v in shown)
        where = f"{where}: " if where else ""
        title = c(title_en)
        now = c(_amount(value, _clean_en(unit), False))
        limit = c(_amount(threshold, _clean_en(unit), False))
        word = f"{SEVERITY_EN[sev]} warning"
        if kind == "flapping":
            return f"{word} FLAPPING: {where}{title} changes state often; further changes held. See console."
        if kind == "settled":
            if resolved:
                return f"RESOLVED {word}, stopped flapping: {where}{title}."
            return f"{word} stopped flapping, still firing: {where}{title} {now}."
        if transition == "resolved":
            return f"RESOLVED {word}: {where}{title}, {'no samples in window' if empty else 'now ' + now}."
        if transition == "escalated":
            was = f" (up from {SEVERITY_EN[prev]})" if prev in SEVERITY_EN else " (up)"
            return f"{word}{was}: {where}{title} {now}, limit {limit}."
        if transition == "de-escalated":
            was = f" (down from {SEVERITY_EN[prev]})" if prev in SEVERITY_EN else " (down)"
            return f"{word}{was}: {where}{title} {now}."
        return f"{word}: {where}{title} {now}, limit {limit}."

    return _fit(zh, _utf16, ZH_LIMIT, _cut_zh), _fit(en, len, EN_LIMIT, _cut_en)


def summary_texts(pending: dict, rules_named: int) -> tuple[str, str]:
    """(text_zh, text_en) standing for the folded notifications of one window."""
    n = pending["count"]
    by_sev = [(s, pending["severity"][s]) for s in reversed(SEVERITIES) if pending["severity"].get(s)]
    top = sorted(pending["rules"].items(), key=lambda kv: (-kv[1], kv[0]))[:rules_named]

    def zh(cap: int) -> str:
        sevs = " ".join(f"{SEVERITY_ZH[s]}{k}条" for s, k in by_sev)
        rules = "、".join(_cap(_clean_zh(RULE_TITLES.get(r, (r, r))[0]), cap, "…") for r, _ in top)
        rules = f"主要：{rules}。" if rules else ""
        return f"另有{n}条预警未逐条发送：{sevs}。{rules}请查看预警平台。"

    def en(cap: int) -> str:
        sevs = ", ".join(f"{SEVERITY_EN[s]} {k}" for s, k in by_sev)
        rules = ", ".join(_cap(_clean_en(RULE_TITLES.get(r, (r, r))[1]), cap, "...") for r, _ in top)
        rules = f" Top: {rules}." if rules else ""
        return f"{n} more warnings not sent singly: {sevs}.{rules} See the warning console."

    return _fit(zh, _utf16, ZH_LIMIT, _cut_zh), _fit(en, len, EN_LIMIT, _cut_en)


# --- the notifier ------------------------------------------------------------


def _nid(base: str, suffix: str) -> str:
    """A derived notification id, hashed when the parts would exceed the wire limit."""
    text = f"{base}:{suffix}"
    if len(text) <= MAX_ID:
        return text
    return f"{hashlib.sha256(base.encode('utf-8', 'surrogatepass')).hexdigest()[:40]}:{suffix}"[:MAX_ID]


def new_group_state() -> dict:
    return {
        "v": GROUP_VERSION,
        "seen": "",  # digests of the warning ids already handled, oldest first
        "window_start": None,  # start of the current rate-limit window
        "sent": 0,  # texts sent in the current window
        "pending": None,  # folded notifications awaiting their summary
        "summary_seq": 0,  # summaries sent so far; numbers their ids
        "fps": {},  # fingerprint -> {changes, told, flapping?, announced?, last?}
    }


class Outcome(tuple):
    """(new_group_state, notifications); `skipped` counts changes not sent on their own, by reason.

    Reasons: duplicate, suppressed (held back), flapping (held), policy
    (not a notified transition), folded (counted in a coming summary).
    """

    def __new__(cls, state: dict, notifications: list[dict], skipped: Counter | None = None):
        self = super().__new__(cls, (state, notifications))
        self.skipped = dict(skipped or {})
        return self

    @property
    def state(self) -> dict:
        return self[0]

    @property
    def notifications(self) -> list[dict]:
        return self[1]


class Notifier:
    def __init__(self, config: NotifyConfig, districts: Mapping[str, Any] | None = None):
        self.config = config
        self.districts = districts or {}

    def route(self, warning: dict) -> str:
        return route(warning, self.districts, self.config.default_group)

    def on_warning(self, group_state: dict | None, warning: dict, group: str, now: float) -> Outcome:
        """Handle one warning message routed to `group` at time `now`."""
        return self.on_warnings(group_state, [(warning, now)], group)

    def on_warnings(self, group_state: dict | None, arrivals: list[tuple[dict, float]], group: str) -> Outcome:
        """Handle warning messages routed to `group`, each at its time, in order: as many
        on_warning calls would, with one copy of the group's state (a group in a storm
        holds thousands of fingerprints)."""
        st = migrate_group(_own(group_state)) if group_state else new_group_state()
        out: list[dict] = []
        skipped: Counter = Counter()
        for warning, now in arrivals:
            self._on_warning(st, warning, group, now, out, skipped)
        return Outcome(st, out, skipped)

    def _on_warning(self, st: dict, warning: dict, group: str, now: float, out: list[dict],
                    skipped: Counter) -> None:
        self._roll(st, group, now, out)
        seen, digest = st["seen"], id_digest(warning["warning_id"])
        if remembers(seen, digest):
            skipped["duplicate"] += 1
            return
        st["seen"] = (seen + digest)[-self.config.remember_warning_ids * DIGEST_CHARS:]

        flap = self.config.flapping
        fp = warning["fingerprint"]
        # popped and put back: the group's fingerprints stay in the order their last change arrived
        entry = st["fps"][fp] = dict(st["fps"].pop(fp, None) or {"changes": [], "told": None})
        if entry.get("flapping") and now - entry["changes"][-1] >= flap.settle_seconds:
            self._unflap(entry)  # settled before this change: it is notified normally below
        entry["changes"] = [t for t in entry["changes"] if now - t < flap.history_seconds][-(flap.changes - 1):]
        entry["changes"].append(now)
        if not entry.get("flapping") and len(entry["changes"]) >= flap.changes:
            entry["flapping"], entry["announced"] = True, False
        if entry.get("flapping"):
            entry["last"] = _snapshot(warning)

        transition = _transition(warning)
        if warning.get("suppressed"):
            skipped["suppressed"] += 1
            if transition == "resolved" and not entry.get("flapping"):
                entry["told"] = None
        elif entry.get("flapping"):
            if entry["announced"] or not self._blue_allowed(warning):
                skipped["flapping"] += 1
            else:
                entry["announced"] = True
                self._send(st, self._note(warning, group, now, "flapping"), warning, now, out, skipped)
        elif self._wanted(warning, transition, entry["told"]):
            self._send(st, self._note(warning, group, now, "change"), warning, now, out, skipped)
            entry["told"] = None if transition == "resolved" else warning["severity"]
        else:
            skipped["policy"] += 1
            if transition == "resolved":
                entry["told"] = None
        self._prune(st, now)

    def on_tick(self, group_state: dict | None, group: str, now: float) -> Outcome:
        """Close a rate-limit window (its summary) and settle flapping warnings, at time `now`."""
        st = migrate_group(_own(group_state)) if group_state else new_group_state()
        out: list[dict] = []
        skipped: Counter = Counter()
        self._roll(st, group, now, out)
        for fp, entry in st["fps"].items():
            if entry.get("flapping") and now - entry["changes"][-1] >= self.config.flapping.settle_seconds:
                entry = st["fps"][fp] = dict(entry)
                last = entry["last"]
                self._unflap(entry)
                if not last["suppressed"]:
                    self._send(st, self._note(last, group, now, "settled"), last, now, out, skipped)
        self._prune(st, now)
        return Outcome(st, out, skipped)

    def fit(self, group_state: dict, budget: int = STATE_BUDGET_BYTES) -> tuple[dict, int]:
        """The group's state within `budget` bytes of JSON, and how many fingerprints that forgot.

        `max_fingerprints` bounds the count, not the bytes: an entry is ~80 bytes, but a
        flapping one carries its last change (~570 bytes), and 5 000 of those are 2.9 MB,
        a record Kafka refuses. Beyond the budget the fingerprints whose last change arrived
        longest ago are forgotten, an eighth at a time, as beyond max_fingerprints.
        """
        if len(group_state["fps"]) * ENTRY_BYTES_AT_MOST + 65536 <= budget:
            return group_state, 0  # cannot be over: no need to measure
        if len(orjson.dumps(group_state)) <= budget:
            return group_state, 0
        st = _own(group_state)
        fps, forgotten = st["fps"], 0
        while fps and len(orjson.dumps(st)) > budget:
            n = max(1, len(fps) // 8)
            for fp in list(itertools.islice(fps, n)):
                del fps[fp]
            forgotten += n
        return st, forgotten

    def next_tick_at(self, group_state: dict | None) -> float | None:
        """When on_tick next has something to do (a summary or a settle), or None."""
        if not group_state:
            return None
        due = []
        if group_state["pending"] and group_state["window_start"] is not None:
            due.append(group_state["window_start"] + self.config.rate_limit.window_seconds)
        due += [e["changes"][-1] + self.config.flapping.settle_seconds
                for e in group_state["fps"].values() if e.get("flapping")]
        return min(due) if due else None

    # --- decisions ---

    def _blue_allowed(self, warning: dict) -> bool:
        return warning["severity"] != "blue" or self.config.blue != "none"

    def _wanted(self, warning: dict, transition: str, told: str | None) -> bool:
        cfg = self.config
        if transition == "resolved":
            return told is not None and "resolved" in cfg.notify_transitions
        if not self._blue_allowed(warning):
            return False
        if told is None:  # news to the group: a raise, or first sight after suppressed changes
            return "raised" in cfg.notify_transitions
        if warning["severity"] == "blue" and cfg.blue == "raise_resolve":
            return False
        return transition in cfg.notify_transitions

    @staticmethod
    def _unflap(entry: dict) -> None:
        last = entry.pop("last")
        entry.pop("flapping", None)
        entry.pop("announced", None)
        entry["changes"] = []
        entry["told"] = None if last["status"] == "resolved" else last["severity"]

    # --- rate limit and summaries ---

    def _roll(self, st: dict, group: str, now: float, out: list[dict]) -> None:
        start = st["window_start"]
        if start is None or now < start + self.config.rate_limit.window_seconds:
            return
        if st["pending"]:
            out.append(self._summary(st, group, now))
            st["window_start"], st["sent"], st["pending"] = now, 1, None
        else:
            st["window_start"], st["sent"] = None, 0

    def _send(self, st: dict, note: dict, warning: dict, now: float, out: list[dict], skipped: Counter) -> None:
        if st["window_start"] is None:
            st["window_start"], st["sent"] = now, 0
        if st["sent"] < self.config.rate_limit.max_messages:
            st["sent"] += 1
            out.append(note)
            return
        skipped["folded"] += 1
        p = st["pending"] or {"count": 0, "severity": {}, "rules": {}, "top": None}
        p["count"] += 1
        p["severity"][note["severity"]] = p["severity"].get(note["severity"], 0) + 1
        p["rules"][note["rule_id"]] = p["rules"].get(note["rule_id"], 0) + 1
        if note["status"] == "firing" and (p["top"] is None or RANK[note["severity"]] > RANK[p["top"][0]]):
            p["top"] = [note["severity"], note["transition"]]
        st["pending"] = p

    def _summary(self, st: dict, group: str, now: float) -> dict:
        p = st["pending"]
        st["summary_seq"] += 1
        text_zh, text_en = summary_texts(p, self.config.summary.rules_named)
        highest = max(p["severity"], key=RANK.__getitem__)
        ident = f"summary:{group}:{st['summary_seq']}"
        return {
            "notification_id": ident,
            "warning_id": ident,  # no single warning: the summary's own id
            "fingerprint": f"summary:{group}",
            "recipient_group": group,
            "rule_id": "notify.summary",
            "severity": highest,
            # firing if anything folded still fired, with the transition of the most severe of those
            "status": "firing" if p["top"] else "resolved",
            "transition": p["top"][1] if p["top"] else "resolved",
            "text_zh": text_zh,
            "text_en": text_en,
            "created_at": to_rfc3339(now),
            "kind": "summary",
            "folded": p["count"],
        }

    # --- rendering and bookkeeping ---

    def _note(self, warning: dict, group: str, now: float, kind: str) -> dict:
        district_id = (warning.get("scope") or {}).get("district_id")
        d = _district(self.districts, district_id)
        text_zh, text_en = short_texts(warning, _attr(d, "name") if d is not None else None, kind)
        suffix = {"change": "sms", "flapping": "flapping", "settled": "settled"}[kind]
        note = {
            "notification_id": _nid(warning["warning_id"], suffix),
            "warning_id": warning["warning_id"],
            "fingerprint": warning["fingerprint"],
            "recipient_group": group,
            "rule_id": warning["rule_id"],
            "severity": warning["severity"],
            "status": warning["status"],
            "transition": _transition(warning),
            "text_zh": text_zh,
            "text_en": text_en,
            "created_at": to_rfc3339(now),
            "kind": kind,
        }
        if district_id:
            note["district_id"] = district_id
        return note

    def _prune(self, st: dict, now: float) -> None:
        """Forget what a group no longer needs, and keep it within max_fingerprints (module doc)."""
        fps, bound = st["fps"], self.config.max_fingerprints
        if len(fps) <= bound and now < st.get("pruned_at", -math.inf) + PRUNE_SECONDS:
            return
        history = self.config.flapping.history_seconds
        for fp in [fp for fp, e in fps.items()
                   if e["told"] is None and not e.get("flapping")
                   and (not e["changes"] or now - e["changes"][-1] >= history)]:
            del fps[fp]
        st["pruned_at"] = now
        if len(fps) > bound:  # the longest quiet first: their resolve may then go unnotified
            for fp in list(itertools.islice(fps, len(fps) - (bound - bound // 64))):
                del fps[fp]


def _own(group_state: dict) -> dict:
    """A copy of a group's state that on_warning and on_tick may change: the caller's (a
    table value) stays as it was. A deep copy cost a third of the notify agent's time on
    groups with many fingerprints; the entries are copied where they are changed instead."""
    pending = group_state["pending"]
    return {**group_state, "fps": dict(group_state["fps"]),
            "pending": None if pending is None else {**pending, "severity": dict(pending["severity"]),
                                                     "rules": dict(pending["rules"])}}


def _snapshot(warning: dict) -> dict:
    """What a "settled" text needs of the last change of a flapping warning."""
    keys = ("warning_id", "fingerprint", "rule_id", "severity", "previous_severity", "status", "scope", "metric")
    snap = {k: warning[k] for k in keys if k in warning}
    snap["transition"] = _transition(warning)
    snap["suppressed"] = bool(warning.get("suppressed"))
    return snap
