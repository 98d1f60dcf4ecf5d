"""Conversions between the wire's RFC 3339 strings and the core's epoch seconds."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime


def to_epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@functools.lru_cache(maxsize=4096)
def date_to_epoch(text: str) -> float:
    """Start of the day, UTC (due dates carry no time zone on the wire). Cached: an account's
    rules convert its bills' due dates on every evaluation, and there are few distinct days."""
    d = date.fromisoformat(text)
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


@functools.lru_cache(maxsize=4096)
def to_rfc3339(ts: float) -> str:
    """Cached: a warning renders window ends and change times, and a window's ends recur."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
