"""A customer account: bills, payments, risk flags (fee recovery).

Money is kept in integer cents (the wire's decimal strings converted once),
so sums are exact. Bills are keyed by `bill_id` and payments by `event_id`
(first version wins), so a redelivered event changes nothing. A payment goes
to the bill it names, if that bill is known and still open; the rest, and a
payment naming no bill or a bill not seen yet, goes to the oldest open bills
(by due date, first in first out); what is left is credit, applied to the
next bill that arrives. Allocations never move once made, so what was told to
the district stays true. Whatever the arrival order, the account's totals are
the same: unpaid = max(0, billed - paid), credit = max(0, paid - billed).

Each payment remembers how much it gave to which bill, with its own time, so
rules can ask what was open at any moment (`remaining_at`) and stamp a
transition at the moment a condition became true, not when it was noticed.

Events of other kinds that reach an account (meter alarms naming it) leave
the money facts alone; rules that need them keep their own state.

The state is bounded (`prune`): a bill paid in full is dropped, with the
payments' parts that went to it, once it was settled `retention` before the
account's newest billing event, and earlier, oldest settled first, when the
account holds more than `max_entries` bills and payments. Totals stay exact
(a dropped bill takes exactly what was paid to it). Open bills and payments
with credit left are never dropped: an account with more of them than a
state can hold has its next events dead-lettered (`state_too_large`, by the
engine), so no money is lost silently. A billing event dated at or before the
newest dropped settlement (`pruned_to`) is ignored and counted (`too_old`):
it is a resend of what was dropped, or older than what the account keeps.
"""

from __future__ import annotations

from decimal import Decimal

from .common import forget, once

BILLING = ("bill.issued", "payment.received", "account.risk_flagged")
CURRENCY = "CNY"  # thresholds are in CNY; other currencies are recorded, never mixed in
OTHER_CURRENCY_KEPT = 20  # ids of other-currency events kept (their count is kept whole)


def cents(text: str) -> int:
    return int(Decimal(text) * 100)


def money(c: int) -> str:
    """Integer cents as the wire's decimal string."""
    sign = "-" if c < 0 else ""
    return f"{sign}{abs(c) // 100}.{abs(c) % 100:02d}"


def fold(facts: dict, event: dict, ts: float) -> None:
    kind = event["type"]
    if event.get("account_id") is not None:
        facts.setdefault("account_id", event["account_id"])
    if kind not in BILLING:
        # A meter alarm's district is only a fallback for routing its warnings.
        if event.get("district_id") and not facts.get("district_id"):
            facts["district_id"] = event["district_id"]
        return
    if kind != "account.risk_flagged" and ts <= facts.get("pruned_to", float("-inf")):
        facts["too_old"] = facts.get("too_old", 0) + 1
        return
    facts["latest_ts"] = max(facts.get("latest_ts", ts), ts)
    if event.get("currency", CURRENCY) != CURRENCY:
        other = facts.setdefault("other_currency", [])
        if event["event_id"] not in other:
            other.append(event["event_id"])
            facts["other_currency_n"] = facts.get("other_currency_n", 0) + 1
            del other[:-OTHER_CURRENCY_KEPT]
        return
    if kind == "bill.issued":
        _bill(facts, event, ts)
    elif kind == "payment.received":
        _payment(facts, event, ts)
    else:
        flags = facts.setdefault("flags", {})
        seen = flags.get(event["flag"])
        if seen is None or ts < seen["ts"]:
            flags[event["flag"]] = {"ts": ts, "event_id": event["event_id"]}
        if event.get("district_id"):
            facts.setdefault("flag_district_id", event["district_id"])
    _totals(facts)


def _bill(facts: dict, event: dict, ts: float) -> None:
    bills = facts.setdefault("bills", {})
    if event["bill_id"] in bills:
        return
    bills[event["bill_id"]] = {
        "period": event["period"], "amount_cents": cents(event["amount"]), "paid_cents": 0,
        "due_date": event["due_date"], "district_id": event["district_id"],
        "customer_class": event.get("customer_class"), "event_id": event["event_id"], "ts": ts,
    }
    # Credit waiting for this bill: payments that named it first, then the oldest.
    payments = facts.get("payments", {})
    waiting = sorted((p for p in payments.values() if _left(p) > 0),
                     key=lambda p: (p.get("bill_id") != event["bill_id"], p["ts"], p["event_id"]))
    for p in waiting:
        _give(p, bills[event["bill_id"]], event["bill_id"])


def _payment(facts: dict, event: dict, ts: float) -> None:
    payments = facts.setdefault("payments", {})
    if event["event_id"] in payments:
        return
    p = payments[event["event_id"]] = {
        "event_id": event["event_id"], "amount_cents": cents(event["amount"]), "ts": ts,
        "bill_id": event.get("bill_id"), "alloc": {},
    }
    bills = facts.get("bills", {})
    if p["bill_id"] in bills:
        _give(p, bills[p["bill_id"]], p["bill_id"])
    for bill_id in oldest_first(bills):
        if _left(p) == 0:
            break
        _give(p, bills[bill_id], bill_id)


def _left(p: dict) -> int:
    return p["amount_cents"] - sum(p["alloc"].values())


def _give(p: dict, bill: dict, bill_id: str) -> None:
    take = min(_left(p), bill["amount_cents"] - bill["paid_cents"])
    if take > 0:
        p["alloc"][bill_id] = p["alloc"].get(bill_id, 0) + take
        bill["paid_cents"] += take


def oldest_first(bills: dict) -> list[str]:
    return sorted(bills, key=lambda b: (bills[b]["due_date"], bills[b]["period"], b))


def _totals(facts: dict) -> None:
    bills = facts.get("bills", {})
    facts["unpaid_cents"] = sum(b["amount_cents"] - b["paid_cents"] for b in bills.values())
    facts["credit_cents"] = sum(_left(p) for p in facts.get("payments", {}).values())
    if bills:
        latest = max(bills.values(), key=lambda b: (b["period"], b["due_date"], b["event_id"]))
        facts["district_id"] = latest["district_id"]
        facts["customer_class"] = latest["customer_class"]
    elif facts.get("flag_district_id") and "pruned_to" not in facts:
        facts["district_id"] = facts["flag_district_id"]


def prune(facts: dict, retention: float, max_entries: int) -> None:
    """Drop settled bills (module doc): settled `retention` ago, or the oldest beyond `max_entries`."""
    bills, payments = facts.get("bills"), facts.get("payments", {})
    if not bills or ("latest_ts" not in facts):
        return
    horizon = facts["latest_ts"] - retention
    if len(bills) + len(payments) <= max_entries and min(b["ts"] for b in bills.values()) >= horizon:
        return  # nothing can be due: most events
    last_paid: dict[str, float] = {}
    for p in payments.values():
        for b, c in p["alloc"].items():
            if c > 0:
                last_paid[b] = max(last_paid.get(b, p["ts"]), p["ts"])
    settled = sorted((max(bill["ts"], last_paid.get(b, bill["ts"])), b) for b, bill in bills.items()
                     if bill["paid_cents"] >= bill["amount_cents"])
    for at, bill_id in settled:
        if at >= horizon and len(bills) + len(payments) <= max_entries:
            break
        names = [f"bill:{bill_id}:billed"]
        for pid in [pid for pid, p in payments.items() if bill_id in p["alloc"]]:
            p = payments[pid]
            p["amount_cents"] -= p["alloc"].pop(bill_id)
            names.append(f"payment:{pid}:bill:{bill_id}:paid")
            if p["amount_cents"] <= 0 and not p["alloc"]:
                del payments[pid]
        del bills[bill_id]
        forget(facts, names)
        facts["pruned_to"] = max(facts.get("pruned_to", at), at)


# --- the account as of a moment (for rules that stamp exact times) ---------------------


def remaining_at(facts: dict, t: float) -> dict[str, int]:
    """Open cents per bill issued by `t`, counting only payments made by `t`."""
    bills = facts.get("bills", {})
    open_ = {b: bill["amount_cents"] for b, bill in bills.items() if bill["ts"] <= t}
    for p in facts.get("payments", {}).values():
        if p["ts"] <= t:
            for b, c in p["alloc"].items():
                if b in open_:
                    open_[b] -= c
    return {b: c for b, c in open_.items() if c > 0}


def unpaid_at(facts: dict, t: float) -> int:
    """Unpaid cents at `t`: bills issued minus payments made by then (never below zero)."""
    billed = sum(b["amount_cents"] for b in facts.get("bills", {}).values() if b["ts"] <= t)
    paid = sum(p["amount_cents"] for p in facts.get("payments", {}).values() if p["ts"] <= t)
    return max(billed - paid, 0)


def flagged_at(facts: dict, t: float) -> list[str]:
    return sorted(f for f, seen in facts.get("flags", {}).items() if seen["ts"] <= t)


def derive(facts: dict) -> list[tuple[str, dict]]:
    """Feed each bill's district: the amount billed once, then each allocation of a payment.

    A payment split over several bills (or applied in parts as bills arrive)
    gives one `derived.paid` per bill it paid, each sent once.
    """
    out = []
    aid, bills = facts.get("account_id"), facts.get("bills", {})
    for bill_id in oldest_first(bills):
        bill = bills[bill_id]
        if once(facts, f"bill:{bill_id}:billed"):
            out.append((f"district:{bill['district_id']}", {
                "type": "derived.billed", "event_id": f"account:{aid}:bill:{bill_id}:billed", "ts": bill["ts"],
                "account_id": aid, "bill_id": bill_id, "district_id": bill["district_id"],
                "period": bill["period"], "amount": money(bill["amount_cents"]), "due_date": bill["due_date"],
            }))
    for pid, p in sorted(facts.get("payments", {}).items(), key=lambda kv: (kv[1]["ts"], kv[0])):
        for bill_id, c in p["alloc"].items():
            if c > 0 and bill_id in bills and once(facts, f"payment:{pid}:bill:{bill_id}:paid"):
                bill = bills[bill_id]
                out.append((f"district:{bill['district_id']}", {
                    "type": "derived.paid", "event_id": f"account:{aid}:payment:{pid}:bill:{bill_id}:paid",
                    "ts": p["ts"], "account_id": aid, "bill_id": bill_id, "district_id": bill["district_id"],
                    "period": bill["period"], "amount": money(c), "due_date": bill["due_date"],
                }))
    return out
