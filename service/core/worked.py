"""What the core derives once from a frozen object (a rule's parameters, a list of deadlines made from them)
and reads on every evaluation."""

from __future__ import annotations

from typing import Any

_WORKED_OUT: dict[tuple[int, Any, Any], tuple[Any, Any]] = {}
WORKED_OUT_KEPT = 4096


def worked_out(source: Any, arg: Any, make) -> Any:
    """make(source, arg), made once for each (source, arg): for what rules derive from their parameters
    (frozen once the rule book is loaded) on every evaluation. `source` is held with what was made,
    so its id names no other object while the entry is kept."""
    key = (id(source), arg, make)
    found = _WORKED_OUT.get(key)
    if found is None or found[0] is not source:
        if len(_WORKED_OUT) >= WORKED_OUT_KEPT:
            _WORKED_OUT.clear()
        found = _WORKED_OUT[key] = (source, make(source, arg))
    return found[1]
