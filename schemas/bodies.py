"""An input message straight to the event body the engine takes.

`read_event(raw)` returns what `parse_event(raw).model_dump(mode="json",
exclude_none=True)` returns, with `occurred_at` as Unix seconds, and raises
the same `BadEvent` for the same input. It gets there by two routes:

- the common case, a well-formed event, is read by orjson and checked field
  by field in plain Python against the same rules the models state (the
  checks below mirror `schemas.common`'s types), building the JSON-mode body
  directly: no model instance, no datetime re-serialised;
- anything this route is not certain of (a failed check, an unusual but
  perhaps valid form such as a lower-case `t` in a timestamp or a nested
  unknown field, a type whose fields it has no check for) goes to
  `parse_event` and `model_dump`, which decide, so every refusal and its
  reason and detail come from the models alone.

The first route only ever accepts what the models accept and builds the same
body; tests/schemas/test_bodies.py runs both over the benchmark mix, every
example, every refused case and many mutations of them, and compares.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import orjson

from .common import (
    EARLIEST,
    LATEST,
    Count,
    Currency,
    EventId,
    Id,
    IsoDate,
    Money,
    Period,
    Score,
    StrictBool,
    Text,
    UtcDatetime,
    _decimal_text,
    _money,
)
from .events import EVENT_TYPES, EventBase, OutageScheduled, SchemaVersion, parse_event

__all__ = ["read_event"]


class _Unsure(Exception):
    """The plain-Python route cannot vouch for this value: the models decide."""


# --- what the route checks, per contract type ------------------------------------

# The models' patterns, whole-string (pydantic-core's `^...$` has no newline exception).
# Called on a value orjson gave, they also refuse a value that is not a string (TypeError).
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}").fullmatch
_EVENT_ID = re.compile(r"[!-~]{1,128}").fullmatch
# An event's event ids, then its ids, joined by newlines (a character neither may hold), and
# matched at once against a pattern of exactly that many of each: by count of each.
# Compiled when first needed: a compile costs as much as some hundred events.


class _IdRuns(dict):
    def __missing__(self, counts: tuple[int, int]) -> Callable[[str], Any]:
        events, ids = counts
        self[counts] = re.compile("\n".join([_EVENT_ID.__self__.pattern] * events
                                             + [_ID.__self__.pattern] * ids)).fullmatch
        return self[counts]


_ID_RUNS = _IdRuns()
_CURRENCY = re.compile(r"[A-Z]{3}").fullmatch
_PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])").fullmatch
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").fullmatch
# The timestamp forms read here: RFC 3339 with an upper-case T, at most 6 decimals
# and Z or an offset under 24 hours. Other valid forms (t, z, a space, more decimals)
# are left to the models.
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
                   r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])").fullmatch
_CANONICAL_TIME_LEN = len("2026-11-27T08:15:00Z")  # how the models write a whole second in UTC
_FIRST_YEAR, _END_YEAR = EARLIEST.year, LATEST.year
# Money the models write back unchanged: no sign, no leading zero, at most 15 digits and 2 decimals.
_PLAIN_MONEY = re.compile(r"(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,2})?").fullmatch
_INT32 = 2**31 - 1


def _day_seconds(day: str) -> int:
    """Unix seconds at the start of `day` (YYYY-MM-DD, a real day of 1990-2100), remembered."""
    if not (_DATE(day) and _FIRST_YEAR <= int(day[:4]) < _END_YEAR):
        raise _Unsure
    seconds = (date.fromisoformat(day) - _EPOCH_DAY).days * 86400  # an impossible day raises
    if len(_DAYS) >= 4096:
        _DAYS.clear()
    _DAYS[day] = seconds
    return seconds


_EPOCH_DAY = date(1970, 1, 1)
_DAYS: dict[str, int] = {}
# A whole second in UTC is read by table: "THH:MM" and ":SS" of every real time of day.
_HOUR_MINUTE = {f"T{h:02d}:{m:02d}": h * 3600 + m * 60 for h in range(24) for m in range(60)}
_SECOND = {f":{s:02d}": s for s in range(60)}


def _time(value: Any) -> tuple[str, float]:
    """The body's text of a timestamp (UTC, `...Z`, microseconds only when not zero) and its Unix
    seconds, as `datetime.timestamp()` gives them."""
    if type(value) is not str:
        raise _Unsure
    if len(value) == _CANONICAL_TIME_LEN and value[19] == "Z":  # as the models write it: the text stays
        hour_minute, second = _HOUR_MINUTE.get(value[10:16]), _SECOND.get(value[16:19])
        if hour_minute is not None and second is not None:
            day = _DAYS.get(value[:10])
            if day is None:
                day = _day_seconds(value[:10])
            return value, float(day + hour_minute + second)  # whole seconds: exact, as timestamp() is
    if not _TIME(value):
        raise _Unsure
    moment = datetime.fromisoformat(value)  # an impossible day or hour raises: the model decides
    if not EARLIEST <= moment < LATEST:
        raise _Unsure
    return moment.astimezone(UTC).isoformat()[:-6] + "Z", moment.timestamp()


def _money_text(value: Any) -> str:
    if _PLAIN_MONEY(value):
        return value  # already as the model writes it back
    if type(value) is str:
        return _decimal_text(_money(value))  # the model's own rule; a refusal is left to the model
    raise _Unsure


def _int_between(low: int, high: int) -> str:
    return f"if type({{v}}) is not int or not {low} <= {{v}} <= {high}: raise _Unsure"  # bool is no number


# Each contract type (by identity: the very alias the models annotate with) and the line that
# checks a value `{v}` of it, raising _Unsure unless the model surely accepts it, and leaves in
# `{v}` what the body carries.
_CHECKS: tuple[tuple[Any, str], ...] = (
    (Id, "ids"),  # checked together, below
    (EventId, "event ids"),
    (Text, "if type({v}) is not str or len({v}) > 2000: raise _Unsure"),
    (Count, _int_between(0, _INT32)),
    (Score, _int_between(1, 5)),
    (SchemaVersion, _int_between(1, _INT32)),
    (StrictBool, "if type({v}) is not bool: raise _Unsure"),
    (Money, "{v} = _money_text({v})"),
    (Currency, "if not _CURRENCY({v}): raise _Unsure"),
    # YYYY-MM-DD of a real day is how the model writes a date back
    (IsoDate, "if not (_DATE({v}) and _FIRST_YEAR <= date.fromisoformat({v}).year < _END_YEAR): raise _Unsure"),
    (Period, "if not (_PERIOD({v}) and _FIRST_YEAR <= int({v}[:4]) < _END_YEAR): raise _Unsure"),
    (UtcDatetime, "{v}, {t} = _time({v})"),
)

# Model validators the route repeats, by model: each is given the event's times (Unix seconds,
# which keep the order of microsecond datetimes of 1990-2100) by field.
_AFTER: dict[type[EventBase], tuple[str, Callable[[dict[str, float]], bool]]] = {
    OutageScheduled: ("_ends_after_start", lambda t: not t["scheduled_end"] < t["scheduled_start"]),
}

_EXTRA_SCALARS = (str, int, bool, type(None))  # unknown fields the route lets pass (the models ignore them)


def _plain_extras(data: dict, names: frozenset[str]) -> bool:
    """Whether every unknown field holds a string, integer, boolean or null: values orjson and the
    models' JSON parser read alike (a float or a deep array might not be)."""
    return all(type(value) in _EXTRA_SCALARS for key, value in data.items() if key not in names)


# --- one reader per event type, written from its model -------------------------------


def _check_of(annotation: Any) -> str | None:
    for alias, check in _CHECKS:
        if annotation is alias:
            return check
    if get_origin(annotation) is Literal and all(type(a) is str for a in get_args(annotation)):
        return "if {v} not in {allowed}: raise _Unsure"
    return None


def _source(cls: type[EventBase]) -> tuple[str, dict[str, Any]] | None:
    """The reader of `cls` as Python source (and the constants it names): straight-line checks of
    each field in the model's order, then the body as one dict. None where the route has no check
    for a field or a validator of `cls`: that type always goes to the model."""
    decorators = cls.__pydantic_decorators__
    after = _AFTER.get(cls)
    if (decorators.field_validators or decorators.validators or decorators.root_validators
            or decorators.field_serializers or decorators.model_serializers or decorators.computed_fields
            or set(decorators.model_validators) != ({after[0]} if after else set())):
        return None
    hints = get_type_hints(cls, include_extras=True)
    lines = ["def read(data):", "    get = data.get"]
    entries, nullable, times = [], [], {}
    runs: dict[str, tuple[list[str], list[str]]] = {"event ids": ([], []), "ids": ([], [])}  # required, nullable
    constants: dict[str, Any] = {"names": frozenset(cls.model_fields), "after": after[1] if after else None}
    for i, (name, info) in enumerate(cls.model_fields.items()):
        if info.alias not in (None, name) or info.validation_alias is not None:
            return None
        annotation, may_be_null = hints[name], False
        if get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation):
            rest = [a for a in get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return None
            annotation, may_be_null = rest[0], True
        check = _check_of(annotation)
        if check is None:
            return None
        v, t, allowed = f"v{i}", f"t{i}", f"allowed{i}"
        if get_origin(annotation) is Literal:
            constants[allowed] = frozenset(get_args(annotation))
        if info.is_required():
            lines.append(f"    {v} = data[{name!r}]")  # absent: KeyError, the model decides
        elif info.default is None and may_be_null:
            lines.append(f"    {v} = get({name!r})")
        elif type(info.default) in (str, int) and not may_be_null:
            lines.append(f"    {v} = get({name!r}, {info.default!r})")  # the default is checked like a value
        else:
            return None
        if check in runs:
            runs[check][may_be_null].append(v)
        else:
            check = check.format(v=v, t=t, allowed=allowed)
            lines += [f"    if {v} is not None:", f"        {check}"] if may_be_null else [f"    {check}"]
        if may_be_null:
            nullable.append((name, v))
        if annotation is UtcDatetime:
            if may_be_null:
                return None
            times[name] = t
        entries.append(f"{name!r}: {v}")
    if "occurred_at" not in times:
        return None
    for kind, (required, may_be_null) in runs.items():
        lines.append(f"    run = [{', '.join(required)}]" if kind == "event ids" else f"    run += [{', '.join(required)}]")
        lines += [f"    if {v} is not None: run.append({v})" for v in may_be_null]
        if kind == "event ids":
            lines.append("    events = len(run)")
    lines.append("    if not _ID_RUNS[events, len(run) - events]('\\n'.join(run)): raise _Unsure")
    lines.append("    if not names.issuperset(data) and not _plain_extras(data, names): raise _Unsure")
    if after:
        lines.append(f"    if not after({{{', '.join(f'{n!r}: {t}' for n, t in times.items())}}}): raise _Unsure")
    lines.append(f"    body = {{{', '.join(entries)}}}")
    lines += [f"    if {v} is None: del body[{name!r}]" for name, v in nullable]  # exclude_none
    lines.append(f"    return body, {times['occurred_at']}")
    return "\n".join(lines) + "\n", constants


def _reader(cls: type[EventBase]) -> Callable[[dict], tuple[dict, float]] | None:
    written = _source(cls)
    if written is None:
        return None
    source, constants = written
    namespace = {**globals(), **constants}
    exec(compile(source, f"<reader of {cls.__name__}>", "exec"), namespace)
    return namespace["read"]


_READERS: dict[str, Callable[[dict], tuple[dict, float]]] = {
    name: reader for name, cls in EVENT_TYPES.items() if (reader := _reader(cls)) is not None
}


def _body(raw: bytes | bytearray | memoryview | str) -> tuple[dict, float] | None:
    """The body and time of a well-formed event, or None where the models must decide."""
    try:
        data = orjson.loads(raw)
        return _READERS[data["type"]](data)
    except Exception:  # not JSON, not an object, an unknown type, a check that failed ...: the models decide
        return None


def read_event(raw: bytes | bytearray | memoryview | str) -> tuple[dict, float]:
    """One Kafka message value as (the event body in JSON form without nulls, occurred_at in Unix
    seconds), exactly as `parse_event` and `model_dump(mode="json", exclude_none=True)` give them;
    `BadEvent` as `parse_event` raises it."""
    read = _body(raw)
    if read is not None:
        return read
    parsed = parse_event(raw)
    return parsed.model_dump(mode="json", exclude_none=True), parsed.occurred_at.timestamp()
