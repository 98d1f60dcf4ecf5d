"""Whether an event's time is one the service can take, against its clocks.

A parsed event can still carry a time no clock should follow: one dated far
ahead would move the event clock there (every deadline fires at once), one
dated long ago would start a subject that is forgotten as soon as it is
applied, or walk its windows from decades back. Both go to the dead-letter
topic instead, with their reason.

Decisions:
- `future_event_time`: more than `max_skew` seconds ahead of *wall* time, in
  both clock modes. Replayed history lies in the past; live producers' clocks
  differ from ours by seconds. So the event clock, which only follows
  admitted events, never runs more than the skew ahead of wall time.
- `too_old`: more than `retention` seconds behind the service's clock. In
  wall-clock mode that is wall time. With the event clock it is the highest
  time the worker's clock ticks have carried (`risk_clock_seconds`: it never
  goes back, and a partition that has not delivered yet does not hide it;
  None or -inf before the first, when nothing is too old), so a replay of
  2015 history is judged against 2015, not against today. The
  retention is how long a finished subject is kept; an event older than that
  could only recreate a subject the service has already forgotten.
"""

from __future__ import annotations

import math

from .timefmt import to_rfc3339

FUTURE = "future_event_time"
TOO_OLD = "too_old"


def check_event_time(ts: float, wall: float, clock: float | None, *, max_skew: float,
                     retention: float) -> tuple[str, str] | None:
    """(reason, detail) when event time `ts` is out of bounds, None when it may be applied.

    `wall` is wall time, `clock` the service's clock (wall time, or the event
    clock; None or -inf when it has none yet).
    """
    if ts > wall + max_skew:
        return FUTURE, (f"{FUTURE}: occurred_at {to_rfc3339(ts)} is {ts - wall:.0f} s ahead of the service's "
                        f"wall clock ({to_rfc3339(wall)}); at most {max_skew:g} s are allowed")
    if clock is not None and math.isfinite(clock) and ts < clock - retention:
        return TOO_OLD, (f"{TOO_OLD}: occurred_at {to_rfc3339(ts)} is more than the retention "
                         f"({retention / 86400:g} days) behind the service's clock ({to_rfc3339(clock)})")
    return None
