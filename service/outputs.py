"""Every warning and notification is checked against the contract's own model before it is sent.

The engine builds warnings as plain dicts for speed; a rule or a piece of
reference data could still put something there the contract refuses (a line
break in a summary, an id from a state written before ids were checked). Such
a message is not sent: consumers built on the contract's models would fail on
it. It is logged in full at ERROR (as escaped JSON: no raw control or
bidirectional characters reach the log) and counted in
`risk_invalid_outputs_total{kind}`. It is not dead-lettered: the dead-letter
topic holds bad *input*, and replaying the input would only build the same
message again; the log line is what a fix starts from.

Checking costs about 25 us a warning (pydantic, validate_python on the dict),
and warnings are a fraction of the events.
"""

from __future__ import annotations

import json
import logging

from pydantic import TypeAdapter, ValidationError

from schemas import Notification, RiskWarning

from . import metrics

log = logging.getLogger(__name__)

MAX_LOGGED = 4000  # characters of the refused message in its log line

_MODELS = {"warning": TypeAdapter(RiskWarning), "notification": TypeAdapter(Notification)}


def problem(kind: str, message: dict) -> str | None:
    """What makes `message` (a "warning" or a "notification") break the contract, or None."""
    try:
        _MODELS[kind].validate_python(message)
    except ValidationError as e:
        return "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors(include_url=False)[:3])
    return None


def sendable(kind: str, message: dict) -> bool:
    """True when `message` may be sent; otherwise logged and counted, and False."""
    found = problem(kind, message)
    if found is None:
        return True
    metrics.invalid_outputs.labels(kind).inc()
    text = json.dumps(message, ensure_ascii=True, default=str)  # escapes CR, NUL, bidi overrides
    log.error("not sending an invalid %s (a bug; counted in risk_invalid_outputs_total): %s; the %s: %s",
              kind, json.dumps(found, ensure_ascii=True)[1:-1], kind, text[:MAX_LOGGED])
    return False
