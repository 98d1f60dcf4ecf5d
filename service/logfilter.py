"""Keeps a broker outage from flooding the worker's log, and producers' values from forging lines in it.

While the broker is away the Kafka clients (aiokafka) retry at once and log
every failure: about 2 000 lines a second in the broker-restart test, 88 000
for a 45-second outage. `RepeatFilter` lets each message (same logger, same
format string) through at most once every `every` seconds and says how many
like it were held back; the first occurrence, and every other message, pass.

`EscapeFilter` (on this service's own loggers, `escaping_logger`) writes
control characters, line separators and bidirectional overrides in logged
values as escapes (`\\n`, `\\x1b`, `\\u202e`): one record stays one line.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
from collections.abc import Callable

KAFKA_CLIENT_LOGGERS = ("aiokafka", "aiokafka.conn", "aiokafka.cluster", "aiokafka.consumer.fetcher",
                        "aiokafka.consumer.group_coordinator", "aiokafka.consumer.consumer",
                        "aiokafka.producer.sender", "aiokafka.producer.producer")


class RepeatFilter(logging.Filter):
    def __init__(self, every: float = 30.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.every = every
        self.clock = clock
        self._seen: dict[tuple[str, object], tuple[float, int]] = {}  # (logger, format) -> (last let through, held)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.msg)
        now = self.clock()
        last, held = self._seen.get(key, (None, 0))
        if last is not None and now - last < self.every:
            self._seen[key] = (last, held + 1)
            return False
        self._seen[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} [{held} more like this in the last {now - last:.0f} s, not logged]"
        return True


def quieten_kafka_clients(every: float = 30.0) -> RepeatFilter:
    """Install one RepeatFilter on the Kafka client loggers (a logger's filter sees only its own records)."""
    f = RepeatFilter(every)
    for name in KAFKA_CLIENT_LOGGERS:
        logging.getLogger(name).addFilter(f)
    return f


# Characters that could end a log line or fake one: C0 and C1 controls (newline, carriage
# return, escape sequences), DEL, the Unicode line and paragraph separators, and the
# bidirectional overrides and isolates that reorder what a terminal shows.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape(text: str) -> str:
    """`text` with every unsafe character as a Python escape (\\n, \\x1b, \\u202e); backslashes doubled."""
    if not _UNSAFE.search(text) and "\\" not in text:
        return text
    text = text.replace("\\", "\\\\")
    return _UNSAFE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def _escaped(arg):
    if isinstance(arg, str):
        return escape(arg)
    if isinstance(arg, (int, float, bool)) or arg is None:
        return arg
    return escape(str(arg))  # containers show their strings with repr(), objects may not


class EscapeFilter(logging.Filter):
    """Escapes the values in a record (its arguments, and the message of an exception it carries),
    so a value from a producer cannot start a new log line or rewrite the terminal.

    Installed on this service's loggers (`escaping_logger`): records carry their
    values as arguments (`log.info("... %s", value)`), never formatted into the message.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_escaped", False):
            return True
        record._escaped = True
        if isinstance(record.msg, str):
            record.msg = _UNSAFE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), record.msg)
        else:
            record.msg = escape(str(record.msg))
        if isinstance(record.args, dict):
            record.args = {k: _escaped(v) for k, v in record.args.items()}
        elif record.args:
            record.args = tuple(_escaped(a) for a in record.args)
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = _exception_text(record.exc_info)
        return True


def _exception_text(exc_info) -> str:
    """The traceback as logging would show it, with each exception's own message escaped."""
    te = traceback.TracebackException(*exc_info)
    seen: set[int] = set()
    stack = [te]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if isinstance(getattr(t, "_str", None), str):
            t._str = escape(t._str)  # the message format_exception_only prints (Python 3.11-3.13)
        stack.extend(x for x in (t.__cause__, t.__context__) if x is not None)
    return "".join(te.format()).rstrip("\n")


ESCAPE = EscapeFilter()


def escaping_logger(name: str) -> logging.Logger:
    """logging.getLogger(name) with the EscapeFilter: for modules that log values from producers."""
    logger = logging.getLogger(name)
    if ESCAPE not in logger.filters:
        logger.addFilter(ESCAPE)
    return logger
